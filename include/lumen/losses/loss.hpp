// lumen::losses::Loss<T> — what every loss is.
//
// Keras' reduction "sum_over_batch_size": loss = sum_i(w_i * l_i) / N over the N samples of the batch, where
// l_i is the per-sample loss and w_i the sample weight (1 without class_weight). The gradient returned is
// d loss / d y_pred, so it already carries the 1/N factor: layers' gradients are batch means.
#pragma once

#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"

namespace lumen::losses {

template <class T = float>
class Loss {
public:
    virtual ~Loss() = default;

    // Keras' name, e.g. "binary_crossentropy" (used by compile(), saving and the progress bar).
    [[nodiscard]] virtual std::string name() const = 0;

    // Per-sample losses l_i, shape (N,). y_true is one-hot / binary targets shaped like y_pred, or class
    // indices of shape (N,) or (N, 1) for sparse losses.
    [[nodiscard]] virtual Tensor<T> per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred) const = 0;

    // The reduced loss; when grad_y_pred is not null it receives d loss / d y_pred (shape of y_pred).
    // sample_weight, when not null, holds N weights.
    virtual T compute(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>* grad_y_pred = nullptr,
                      const std::vector<T>* sample_weight = nullptr) const = 0;

    // Keras' call syntax: loss(y_true, y_pred).
    T operator()(const Tensor<T>& y_true, const Tensor<T>& y_pred) const { return compute(y_true, y_pred); }
};

}  // namespace lumen::losses
