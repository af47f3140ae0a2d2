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
// All of them are Keras' VarianceScaling(scale, mode, distribution): n = max(1, fan of the mode),
// uniform limit = sqrt(3 * scale / n), truncated-normal stddev = sqrt(scale / n) / 0.8796....
#pragma once

#include <algorithm>
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

// The standard deviation of a standard normal truncated at +-2: scipy.stats.truncnorm.std(-2, 2).
inline constexpr double kTruncatedNormalStd = 0.87962566103423978;

// An initialiser by Keras name: "glorot_uniform", "he_normal", "zeros", ..., or constant(v).
// The name is checked by validate(), which layers call in their constructors so that the error names the
// layer and the argument; drawing with an unknown name fails too.
struct Initializer {
    std::string name = "glorot_uniform";
    double value = 0;  // for "constant"

    Initializer() = default;
    Initializer(const char* n) : Initializer(std::string(n)) {}  // NOLINT: allows {.kernel_initializer = "he_normal"}
    Initializer(std::string n) : name(std::move(n)) {
        if (name.rfind("constant(", 0) == 0 && name.back() == ')') {  // the text form of to_string(): constant(0.5)
            const std::string number = name.substr(9, name.size() - 10);
            std::istringstream in(number);
            double v = 0;
            if (in >> v && (in >> std::ws).eof()) {
                value = v;
                name = "constant";
            }
        }
    }
    [[nodiscard]] bool known() const {
        return name == "glorot_uniform" || name == "glorot_normal" || name == "he_uniform" || name == "he_normal" ||
               name == "lecun_uniform" || name == "lecun_normal" || name == "zeros" || name == "ones" ||
               name == "constant";
    }
    // Throws an Error naming `where` (e.g. Dense "dense_1") and the argument if the name is not a Keras one.
    void validate(const std::string& where, const std::string& argument) const {
        require(known(), where, ": ", argument, ": unknown initializer \"", name,
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

    [[nodiscard]] bool is_uniform() const {
        return name == "glorot_uniform" || name == "he_uniform" || name == "lecun_uniform";
    }
    [[nodiscard]] bool is_truncated_normal() const {
        return name == "glorot_normal" || name == "he_normal" || name == "lecun_normal";
    }
    // VarianceScaling's scale / n for this initialiser and weight shape: the variance the draws aim at.
    [[nodiscard]] double target_variance(const Shape& shape) const {
        const Fans f = compute_fans(shape);
        const double fan_in = std::max(1.0, f.fan_in), fan_avg = std::max(1.0, (f.fan_in + f.fan_out) / 2);
        if (name == "glorot_uniform" || name == "glorot_normal") return 1.0 / fan_avg;  // scale 1, fan_avg
        if (name == "he_uniform" || name == "he_normal") return 2.0 / fan_in;           // scale 2, fan_in
        if (name == "lecun_uniform" || name == "lecun_normal") return 1.0 / fan_in;     // scale 1, fan_in
        fail("initializer \"", name, "\" is not a variance-scaling initializer");
    }
    // Half-width L of U(-L, L) for the *_uniform initialisers: sqrt(3 * variance).
    [[nodiscard]] double uniform_limit(const Shape& shape) const {
        require(is_uniform(), "initializer \"", name, "\" has no uniform limit");
        return std::sqrt(3.0 * target_variance(shape));
    }
    // Stddev of the normal before truncation at 2 stddev for the *_normal initialisers.
    [[nodiscard]] double truncated_stddev(const Shape& shape) const {
        require(is_truncated_normal(), "initializer \"", name, "\" has no truncated-normal stddev");
        return std::sqrt(target_variance(shape)) / kTruncatedNormalStd;
    }

    // Fills `w` (whose shape gives the fans) with draws from `rng`.
    template <class T>
    void operator()(Tensor<T>& w, Generator& rng) const {
        validate("initializer", "name");
        if (is_uniform()) {
            const double limit = uniform_limit(w.shape());
            for (auto& v : w) v = static_cast<T>(rng.uniform(-limit, limit));
        } else if (is_truncated_normal()) {
            const double stddev = truncated_stddev(w.shape());
            for (auto& v : w) v = static_cast<T>(rng.truncated_normal(0.0, stddev));
        } else if (name == "zeros") {
            w.fill(T(0));
        } else if (name == "ones") {
            w.fill(T(1));
        } else {
            w.fill(static_cast<T>(value));
        }
    }
};

inline Initializer constant(double v) {
    Initializer i("constant");
    i.value = v;
    return i;
}

}  // namespace lumen
