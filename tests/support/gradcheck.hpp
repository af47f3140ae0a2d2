// Central-difference gradient checks for layers, in double precision.
//
// For a layer f, a random upstream gradient g and L(x, w) = sum(f(x; w) * g):
//   analytic: dx = backward(g), dw accumulated into weights()[i]->grad
//   numeric:  dL/dv ~ (L(v + h) - L(v - h)) / (2h) for every checked element v of x and of each weight
// Also checks that backward ADDS into parameter gradients rather than overwriting them.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::test {

inline Tensor<double> random_tensor(const Shape& shape, Generator& g, double lo = -1, double hi = 1) {
    Tensor<double> t(shape);
    for (auto& v : t) v = g.uniform(lo, hi);
    return t;
}

struct GradCheckOptions {
    double step = 1e-5;       // h
    double atol = 1e-6;       // |analytic - numeric| <= atol + rtol * |numeric|
    double rtol = 1e-5;
    int max_elements = 300;   // per tensor; larger tensors are sampled at random positions
    bool training = false;    // forward(x, training)
    std::uint64_t seed = 1;
};

namespace detail {
inline double weighted_sum(layers::Layer<double>& layer, const Tensor<double>& x, const Tensor<double>& g,
                           bool training) {
    const Tensor<double> y = layer.forward(x, training);
    double s = 0;
    for (index_t i = 0; i < y.size(); ++i) s += y[i] * g[i];
    return s;
}
inline std::vector<index_t> sample_positions(index_t n, int max_elements, Generator& rng) {
    std::vector<index_t> pos;
    if (n <= max_elements) {
        for (index_t i = 0; i < n; ++i) pos.push_back(i);
    } else {
        for (int k = 0; k < max_elements; ++k) pos.push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(n))));
    }
    return pos;
}
inline void compare(const std::string& what, double analytic, double numeric, const GradCheckOptions& o,
                    int& failures) {
    const double err = std::abs(analytic - numeric);
    if (!(err <= o.atol + o.rtol * std::abs(numeric))) {
        if (failures < 5) UNSCOPED_INFO(what << ": analytic " << analytic << " numeric " << numeric);
        ++failures;
    }
}
}  // namespace detail

// Checks input and parameter gradients of a built (or buildable) layer on input x (with batch axis).
inline void check_layer_gradients(layers::Layer<double>& layer, const Tensor<double>& x,
                                  const GradCheckOptions& o = {}) {
    Generator rng(o.seed);
    if (!layer.built()) layer.build(x.shape().without_batch(), o.seed);
    const Tensor<double> y0 = layer.forward(x, o.training);
    const Tensor<double> g = random_tensor(y0.shape(), rng);

    // Analytic gradients, starting from zero.
    layer.zero_grad();
    layer.forward(x, o.training);
    const Tensor<double> dx = layer.backward(g);
    REQUIRE(dx.shape() == x.shape());
    std::vector<Tensor<double>> dw;
    for (auto* w : layer.weights()) dw.push_back(w->grad);

    int failures = 0;
    Tensor<double> xp = x;
    for (index_t i : detail::sample_positions(x.size(), o.max_elements, rng)) {
        const double v = xp[i];
        xp[i] = v + o.step;
        const double lp = detail::weighted_sum(layer, xp, g, o.training);
        xp[i] = v - o.step;
        const double lm = detail::weighted_sum(layer, xp, g, o.training);
        xp[i] = v;
        detail::compare(layer.class_name() + " dL/dx[" + std::to_string(i) + "]", dx[i], (lp - lm) / (2 * o.step), o,
                        failures);
    }
    auto weights = layer.weights();
    for (std::size_t k = 0; k < weights.size(); ++k) {
        auto* w = weights[k];
        if (w->grad.empty()) continue;
        for (index_t i : detail::sample_positions(w->value.size(), o.max_elements, rng)) {
            const double v = w->value[i];
            w->value[i] = v + o.step;
            const double lp = detail::weighted_sum(layer, x, g, o.training);
            w->value[i] = v - o.step;
            const double lm = detail::weighted_sum(layer, x, g, o.training);
            w->value[i] = v;
            detail::compare(layer.class_name() + " dL/d" + w->name + "[" + std::to_string(i) + "]", dw[k][i],
                            (lp - lm) / (2 * o.step), o, failures);
        }
    }
    INFO(layer.class_name() << " \"" << layer.name() << "\" on input " << x.shape().to_string() << ": " << failures
                            << " gradient elements off");
    CHECK(failures == 0);
}

// Checks that backward adds into existing parameter gradients: grads pre-filled with 0.5 end as 0.5 + dw.
inline void check_backward_accumulates(layers::Layer<double>& layer, const Tensor<double>& x, bool training = false) {
    Generator rng(7);
    if (!layer.built()) layer.build(x.shape().without_batch(), 7);
    const Tensor<double> y = layer.forward(x, training);
    const Tensor<double> g = random_tensor(y.shape(), rng);
    layer.zero_grad();
    layer.backward(g);
    std::vector<Tensor<double>> fresh;
    for (auto* w : layer.weights()) fresh.push_back(w->grad);
    for (auto* w : layer.weights())
        if (!w->grad.empty()) w->grad.fill(0.5);
    layer.forward(x, training);
    layer.backward(g);
    auto weights = layer.weights();
    for (std::size_t k = 0; k < weights.size(); ++k) {
        if (weights[k]->grad.empty()) continue;
        double worst = 0;
        for (index_t i = 0; i < fresh[k].size(); ++i)
            worst = std::max(worst, std::abs(weights[k]->grad[i] - (0.5 + fresh[k][i])));
        INFO(layer.class_name() << " weight " << weights[k]->name << " must accumulate (+=) its gradient");
        CHECK(worst < 1e-9);
    }
}

}  // namespace lumen::test
