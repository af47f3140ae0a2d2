// Activation functions as plain loops over a (rows, cols) buffer, forward and backward side by side.
//
// Used by the Activation layer and fused into the output pass of Conv2D and Dense (one sweep over memory
// instead of two). Softmax works along the last axis (each row of `cols` values); the others are element-wise.
// Backward computes d = dL/dx from dL/dy in place; it needs the output y, and for gelu and swish the input x.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"
#include "lumen/core/threads.hpp"

namespace lumen::kernels {

enum class ActivationFn { linear, relu, sigmoid, tanh, softmax, leaky_relu, elu, gelu, swish };

// Keras' default slopes: tf.nn.leaky_relu / keras.activations.leaky_relu negative_slope 0.2, elu alpha 1.0.
inline constexpr double kLeakyReluSlope = 0.2;
inline constexpr double kEluAlpha = 1.0;

// Keras' activation names ("relu", "softmax", ...; "linear" or "" or "none" for none; "silu" = "swish").
inline ActivationFn activation_from_name(const std::string& name, const std::string& where = "activation") {
    if (name.empty() || name == "linear" || name == "none" || name == "None") return ActivationFn::linear;
    if (name == "relu") return ActivationFn::relu;
    if (name == "sigmoid") return ActivationFn::sigmoid;
    if (name == "tanh") return ActivationFn::tanh;
    if (name == "softmax") return ActivationFn::softmax;
    if (name == "leaky_relu") return ActivationFn::leaky_relu;
    if (name == "elu") return ActivationFn::elu;
    if (name == "gelu") return ActivationFn::gelu;
    if (name == "swish" || name == "silu") return ActivationFn::swish;
    fail(where, ": unknown activation \"", name,
         "\"; expected one of linear, relu, sigmoid, tanh, softmax, leaky_relu, elu, gelu, swish");
}

inline std::string activation_name(ActivationFn fn) {
    switch (fn) {
        case ActivationFn::linear: return "linear";
        case ActivationFn::relu: return "relu";
        case ActivationFn::sigmoid: return "sigmoid";
        case ActivationFn::tanh: return "tanh";
        case ActivationFn::softmax: return "softmax";
        case ActivationFn::leaky_relu: return "leaky_relu";
        case ActivationFn::elu: return "elu";
        case ActivationFn::gelu: return "gelu";
        case ActivationFn::swish: return "swish";
    }
    return "linear";
}

// Whether backward needs the pre-activation input x (not just the output y).
inline bool activation_needs_input(ActivationFn fn) { return fn == ActivationFn::gelu || fn == ActivationFn::swish; }

template <class T>
inline T sigmoid(T x) {
    // Stable on both sides: never exponentiates a large positive number.
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
}

namespace detail {
inline constexpr index_t kParallelGrain = 1 << 15;  // below this many elements, threads cost more than they save
}

// y = f(x), in place allowed (x == y). x, y: rows*cols values, row-major.
template <class T>
inline void activation_forward(ActivationFn fn, const T* x, T* y, index_t rows, index_t cols) {
    const index_t n = rows * cols;
    const int threads = n >= detail::kParallelGrain ? num_threads() : 1;
    switch (fn) {
        case ActivationFn::linear:
            if (x != y) std::copy(x, x + n, y);
            return;
        case ActivationFn::relu:
#pragma omp parallel for simd num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
            return;
        case ActivationFn::sigmoid:
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
            return;
        case ActivationFn::tanh:
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
            return;
        case ActivationFn::leaky_relu:
#pragma omp parallel for simd num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(kLeakyReluSlope) * x[i];
            return;
        case ActivationFn::elu:
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(kEluAlpha) * std::expm1(x[i]);
            return;
        case ActivationFn::gelu:  // exact form, Keras' default approximate=False: x * Phi(x)
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) y[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] * T(0.70710678118654752440)));
            return;
        case ActivationFn::swish:
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid(x[i]);
            return;
        case ActivationFn::softmax:  // along each row, max-subtracted for stability
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t r = 0; r < rows; ++r) {
                const T* xr = x + r * cols;
                T* yr = y + r * cols;
                const T m = *std::max_element(xr, xr + cols);
                T sum = 0;
                for (index_t c = 0; c < cols; ++c) sum += (yr[c] = std::exp(xr[c] - m));
                const T inv = T(1) / sum;
                for (index_t c = 0; c < cols; ++c) yr[c] *= inv;
            }
            return;
    }
}

// d: on entry dL/dy, on exit dL/dx. y is the forward output; x the forward input (only read when
// activation_needs_input(fn); may be null otherwise). ReLU's gradient at exactly 0 is 0, as in TF.
template <class T>
inline void activation_backward(ActivationFn fn, const T* x, const T* y, T* d, index_t rows, index_t cols) {
    const index_t n = rows * cols;
    const int threads = n >= detail::kParallelGrain ? num_threads() : 1;
    switch (fn) {
        case ActivationFn::linear: return;
        case ActivationFn::relu:
#pragma omp parallel for simd num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) d[i] = y[i] > T(0) ? d[i] : T(0);
            return;
        case ActivationFn::sigmoid:
#pragma omp parallel for simd num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) d[i] *= y[i] * (T(1) - y[i]);
            return;
        case ActivationFn::tanh:
#pragma omp parallel for simd num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) d[i] *= T(1) - y[i] * y[i];
            return;
        case ActivationFn::leaky_relu:
#pragma omp parallel for simd num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) d[i] *= y[i] > T(0) ? T(1) : T(kLeakyReluSlope);
            return;
        case ActivationFn::elu:  // for x <= 0: d/dx alpha*(e^x - 1) = alpha*e^x = y + alpha
#pragma omp parallel for simd num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) d[i] *= y[i] > T(0) ? T(1) : y[i] + T(kEluAlpha);
            return;
        case ActivationFn::gelu:  // d/dx x*Phi(x) = Phi(x) + x*phi(x)
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) {
                const T cdf = T(0.5) * (T(1) + std::erf(x[i] * T(0.70710678118654752440)));
                const T pdf = T(0.39894228040143267794) * std::exp(T(-0.5) * x[i] * x[i]);
                d[i] *= cdf + x[i] * pdf;
            }
            return;
        case ActivationFn::swish:  // d/dx x*s(x) = s + x*s*(1 - s)
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t i = 0; i < n; ++i) {
                const T s = sigmoid(x[i]);
                d[i] *= s + x[i] * s * (T(1) - s);
            }
            return;
        case ActivationFn::softmax:  // dx = y * (dy - sum(dy * y)) along each row
#pragma omp parallel for num_threads(threads) schedule(static)
            for (index_t r = 0; r < rows; ++r) {
                const T* yr = y + r * cols;
                T* dr = d + r * cols;
                T dot = 0;
                for (index_t c = 0; c < cols; ++c) dot += dr[c] * yr[c];
                for (index_t c = 0; c < cols; ++c) dr[c] = yr[c] * (dr[c] - dot);
            }
            return;
    }
}

}  // namespace lumen::kernels
