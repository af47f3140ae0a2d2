// Reader and registry for the golden reference files in ../shared/golden (format: shared/golden/README.md).
//
// Each test file that checks some golden ops registers a handler per op:
//   LUMEN_GOLDEN_HANDLER("conv2d") { ... uses `c`, a GoldenCase ... }
// and tests/golden/test_golden_all.cpp walks cases.list, runs the handler of every case and fails for any case
// (or any .txt file) that no handler consumes, so no golden file can be skipped silently.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "lumen/core/tensor.hpp"

namespace lumen::test {

// The folder holding golden/, data/ and spec/: $LUMEN_SHARED_DIR, else ../shared beside the source tree.
inline std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("LUMEN_SHARED_DIR")) return env;
    return std::filesystem::path(LUMEN_SOURCE_DIR) / ".." / "shared";
}
inline std::filesystem::path golden_dir() { return shared_dir() / "golden"; }

struct GoldenCase {
    std::string name;
    std::string op;
    std::map<std::string, std::vector<std::string>> params;
    std::map<std::string, std::pair<Shape, std::vector<double>>> tensors;

    [[nodiscard]] bool has_param(const std::string& key) const { return params.count(key) != 0; }
    [[nodiscard]] const std::vector<std::string>& param(const std::string& key) const {
        auto it = params.find(key);
        if (it == params.end()) FAIL("golden case " << name << " has no param " << key);
        return it->second;
    }
    [[nodiscard]] std::string str(const std::string& key) const { return param(key).at(0); }
    [[nodiscard]] double num(const std::string& key, std::size_t i = 0) const { return std::stod(param(key).at(i)); }
    [[nodiscard]] int integer(const std::string& key, std::size_t i = 0) const { return std::stoi(param(key).at(i)); }
    [[nodiscard]] bool has_tensor(const std::string& key) const { return tensors.count(key) != 0; }
    // The tensor `key` as Tensor<T> (values are float32-representable, so T = float reads them exactly).
    template <class T = float>
    [[nodiscard]] Tensor<T> tensor(const std::string& key) const {
        auto it = tensors.find(key);
        if (it == tensors.end()) FAIL("golden case " << name << " has no tensor " << key);
        std::vector<T> v(it->second.second.begin(), it->second.second.end());
        return Tensor<T>(it->second.first, std::move(v));
    }
};

inline GoldenCase read_golden(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) FAIL("cannot open golden file " << file.string());
    GoldenCase c;
    c.name = file.stem().string();
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string kind;
        if (!(words >> kind) || kind[0] == '#') continue;
        std::string key;
        words >> key;
        if (kind == "param") {
            std::vector<std::string> values;
            for (std::string v; words >> v;) values.push_back(v);
            if (key == "op") c.op = values.at(0);
            c.params[key] = values;
        } else if (kind == "tensor") {
            std::vector<index_t> dims;
            for (index_t d; words >> d;) dims.push_back(d);
            Shape shape(dims);
            std::vector<double> values;
            values.reserve(static_cast<std::size_t>(shape.size()));
            while (static_cast<index_t>(values.size()) < shape.size()) {
                double v;
                if (!(in >> v)) FAIL("golden file " << file.string() << ": tensor " << key << " is truncated");
                values.push_back(v);
            }
            c.tensors[key] = {shape, std::move(values)};
        }
    }
    return c;
}

// The README's element-wise bound: |got - want| <= 1e-5 + 1e-4 * |want|. Reports the worst element.
template <class T>
inline void check_close(const std::string& what, const Tensor<T>& got, const Tensor<double>& want,
                        double atol = 1e-5, double rtol = 1e-4) {
    INFO(what << ": got shape " << got.shape().to_string() << ", want " << want.shape().to_string());
    REQUIRE(got.size() == want.size());
    double worst = 0;
    index_t worst_i = 0;
    for (index_t i = 0; i < got.size(); ++i) {
        const double excess = std::abs(double(got[i]) - want[i]) / (atol + rtol * std::abs(want[i]));
        if (!(excess <= worst)) {
            worst = excess;
            worst_i = i;
        }
    }
    INFO(what << ": worst element " << worst_i << " got " << double(got[worst_i]) << " want " << want[worst_i]
              << " (" << worst << " x the tolerance)");
    CHECK(worst <= 1.0);
}
template <class T>
inline void check_close(const std::string& what, const Tensor<T>& got, const GoldenCase& c,
                        const std::string& key) {
    check_close(what + " vs " + c.name + ":" + key, got, c.tensor<double>(key));
}

using GoldenHandler = std::function<void(const GoldenCase&)>;
inline std::map<std::string, GoldenHandler>& golden_handlers() {
    static std::map<std::string, GoldenHandler> handlers;
    return handlers;
}
struct RegisterGolden {
    RegisterGolden(const std::string& op, GoldenHandler h) { golden_handlers()[op] = std::move(h); }
};

}  // namespace lumen::test

#define LUMEN_GOLDEN_CAT2(a, b) a##b
#define LUMEN_GOLDEN_CAT(a, b) LUMEN_GOLDEN_CAT2(a, b)
// Registers the following block as the checker for every golden case whose op is `op`; the case is `c`.
#define LUMEN_GOLDEN_HANDLER(op)                                                                        \
    static void LUMEN_GOLDEN_CAT(golden_handler_, __LINE__)(const ::lumen::test::GoldenCase& c);          \
    static const ::lumen::test::RegisterGolden LUMEN_GOLDEN_CAT(golden_registration_, __LINE__)(        \
        op, &LUMEN_GOLDEN_CAT(golden_handler_, __LINE__));                                              \
    static void LUMEN_GOLDEN_CAT(golden_handler_, __LINE__)([[maybe_unused]] const ::lumen::test::GoldenCase& c)
