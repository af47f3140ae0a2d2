// Keras' kernel_regularizer penalties (Weight::regularizer, layers/layer.hpp), added to the loss by the model.
//
// For each weight with an active regularizer: penalty = l1 * sum|w| + l2 * sum w^2 (Keras' L1/L2: no 1/2
// factor, not divided by the batch size); its gradient l1 * sign(w) + 2 * l2 * w is added to the weight's grad.
// Which weights to pass is the model's choice: Keras 3 counts only trainable weights (a frozen layer adds
// no penalty); tf.keras 2.x kept frozen layers' penalties in the loss value.
#pragma once

#include <cmath>
#include <vector>

#include "lumen/layers/layer.hpp"

namespace lumen::losses {

// The total penalty of the weights (no gradients touched): for evaluate() and validation losses.
template <class T>
inline T regularization_penalty(const std::vector<Weight<T>*>& weights) {
    double total = 0;
    for (const Weight<T>* w : weights) {
        if (w == nullptr || !w->regularizer.active()) continue;
        double abs_sum = 0, sq_sum = 0;
        for (const T v : w->value) {
            abs_sum += std::abs(double(v));
            sq_sum += double(v) * double(v);
        }
        total += w->regularizer.l1 * abs_sum + w->regularizer.l2 * sq_sum;
    }
    return static_cast<T>(total);
}

// The total penalty, and its gradient ADDED into each regularized weight's grad (weights without a grad
// buffer contribute to the penalty only).
template <class T>
inline T apply_regularization(const std::vector<Weight<T>*>& weights) {
    for (Weight<T>* w : weights) {
        if (w == nullptr || !w->regularizer.active() || w->grad.empty()) continue;
        require(w->grad.size() == w->value.size(), "regularization: weight \"", w->name, "\" has value ",
                w->value.shape().to_string(), " but grad ", w->grad.shape().to_string());
        const T l1 = static_cast<T>(w->regularizer.l1);
        const T two_l2 = static_cast<T>(2 * w->regularizer.l2);
        for (index_t i = 0; i < w->value.size(); ++i) {
            const T v = w->value[i];
            const T sign = v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0));
            w->grad[i] += l1 * sign + two_l2 * v;
        }
    }
    return regularization_penalty(weights);
}

}  // namespace lumen::losses
