// Keras' weight initialisers with Keras' fan rules (keras/initializers, VarianceScaling).
//
// Fans of a weight shape: rank 1 -> fan_in = fan_out = shape[0]; rank 2 (Dense (in, out)) -> (in, out);
// rank >= 3 (Conv2D HWIO (kh, kw, in, out)) -> receptive = kh*kw, fan_in = in*receptive, fan_out = out*receptive.
//   glorot_uniform  U(-L, L), L = sqrt(6 / (fan_in + fan_out))      (Keras' default for kernels)
//   glorot_normal   truncated normal, stddev = sqrt(2 / (fan_in + fan_out)) / 0.87962566103423978
//   he_uniform      L = sqrt(6 / fan_in);   he_normal    stddev = sqrt(2 / fan_in) / 0.8796...
//   lecun_uniform   L = sqrt(3 / fan_in);   lecun_normal stddev = sqrt(1 / fan_in) / 0.8796...
//   zeros, ones, constant(v)
// The 0.8796... divisor makes the truncated (at 2 stddev) distribution's standard deviation the intended one.
#pragma once

#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include "lumen/core/error.hpp"
#include "lumen/core/random.hpp"
#include "lumen/core/tensor.hpp"

namespace lumen {

struct Fans {
    double fan_in = 1;
    double fan_out = 1;
};

inline Fans compute_fans(const Shape& shape) {
    if (shape.rank() == 0) return {1, 1};
    if (shape.rank() == 1) return {double(shape[0]), double(shape[0])};
    if (shape.rank() == 2) return {double(shape[0]), double(shape[1])};
    double receptive = 1;
    for (int i = 0; i < shape.rank() - 2; ++i) receptive *= double(shape[i]);
    return {double(shape[shape.rank() - 2]) * receptive, double(shape[shape.rank() - 1]) * receptive};
}

// An initialiser by Keras name: "glorot_uniform", "he_normal", "zeros", ..., or constant(v).
struct Initializer {
    std::string name = "glorot_uniform";
    double value = 0;  // for "constant"

    Initializer() = default;
    Initializer(const char* n) : Initializer(std::string(n)) {}  // NOLINT: allows {.kernel_initializer = "he_normal"}
    Initializer(std::string n) : name(std::move(n)) {
        if (name.rfind("constant(", 0) == 0) {  // the text form written by to_string(): constant(0.5)
            value = std::stod(name.substr(9));
            name = "constant";
        }
        require(name == "glorot_uniform" || name == "glorot_normal" || name == "he_uniform" || name == "he_normal" ||
                    name == "lecun_uniform" || name == "lecun_normal" || name == "zeros" || name == "ones" ||
                    name == "constant",
                "initializer: unknown name \"", name,
                "\"; expected glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, "
                "zeros, ones or constant(v)");
    }
    [[nodiscard]] std::string to_string() const {
        if (name != "constant") return name;
        std::ostringstream s;
        s.precision(17);
        s << "constant(" << value << ")";
        return s.str();
    }

    // Fills `w` (whose shape gives the fans) with draws from `rng`.
    template <class T>
    void operator()(Tensor<T>& w, Generator& rng) const {
        const Fans f = compute_fans(w.shape());
        const double fan_in = std::max(1.0, f.fan_in), fan_avg = std::max(1.0, (f.fan_in + f.fan_out) / 2);
        constexpr double kTruncatedStd = 0.87962566103423978;
        auto uniform = [&](double limit) {
            for (auto& v : w) v = static_cast<T>(rng.uniform(-limit, limit));
        };
        auto truncated = [&](double stddev) {
            for (auto& v : w) v = static_cast<T>(rng.truncated_normal(0.0, stddev));
        };
        if (name == "glorot_uniform") uniform(std::sqrt(3.0 / fan_avg));
        else if (name == "glorot_normal") truncated(std::sqrt(1.0 / fan_avg) / kTruncatedStd);
        else if (name == "he_uniform") uniform(std::sqrt(6.0 / fan_in));
        else if (name == "he_normal") truncated(std::sqrt(2.0 / fan_in) / kTruncatedStd);
        else if (name == "lecun_uniform") uniform(std::sqrt(3.0 / fan_in));
        else if (name == "lecun_normal") truncated(std::sqrt(1.0 / fan_in) / kTruncatedStd);
        else if (name == "zeros") w.fill(T(0));
        else if (name == "ones") w.fill(T(1));
        else w.fill(static_cast<T>(value));
    }
};

inline Initializer constant(double v) {
    Initializer i("constant");
    i.value = v;
    return i;
}

}  // namespace lumen
