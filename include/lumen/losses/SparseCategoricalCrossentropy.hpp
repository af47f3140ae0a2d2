// keras.losses.SparseCategoricalCrossentropy (Keras 3 / tf.keras >= 2.11; see docs/losses_and_optimizers.md).
//
// y_true holds integer class indices: (N,) or (N, 1) for y_pred (N, K) (generally y_pred's shape without
// its class axis, or with a class axis of 1). Labels must be whole numbers in [0, K).
//   from_logits (fused, log-sum-exp): l = lse(z) - z_y          dl/dz = softmax(z) - onehot(y)
//   probabilities (as TF: clip, then log, then the fused op, which renormalises the clipped row):
//       p_c = clip(p, eps, 1 - eps), l = log(sum_k p_c,k) - log p_c,y
//       dl/dp_k = 1/sum(p_c) - [k == y]/p_c,y, 0 where clipped
// Per-sample loss = l (averaged over middle axes, if any); loss = mean over the batch.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lumen/losses/loss.hpp"

namespace lumen::losses {

struct SparseCategoricalCrossentropyOptions {
    bool from_logits = false;
    std::string name = "sparse_categorical_crossentropy";
};

template <class T = float>
class SparseCategoricalCrossentropy : public LossFunction<T> {
public:
    explicit SparseCategoricalCrossentropy(SparseCategoricalCrossentropyOptions options = {})
        : o_(std::move(options)) {}

    [[nodiscard]] std::string name() const override { return o_.name; }
    [[nodiscard]] std::string class_name() const override { return "SparseCategoricalCrossentropy"; }
    [[nodiscard]] bool from_logits() const override { return o_.from_logits; }
    [[nodiscard]] Config get_config() const override {
        return {{"name", o_.name}, {"from_logits", bool_text(o_.from_logits)}};
    }

protected:
    void evaluate(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>& losses, Tensor<T>* grad) const override {
        const RowLayout l = this->layout(y_pred, true);
        const Shape rows_shape(std::vector<index_t>(y_pred.shape().dims().begin(), y_pred.shape().dims().end() - 1));
        std::vector<index_t> with_one = rows_shape.dims();
        with_one.push_back(1);
        require(y_true.shape() == rows_shape || y_true.shape() == Shape(with_one),
                "SparseCategoricalCrossentropy: y_true shape ", y_true.shape().to_string(),
                " does not fit y_pred shape ", y_pred.shape().to_string(), "; expected integer labels of shape ",
                rows_shape.to_string(), " (one-hot targets need CategoricalCrossentropy)");
        losses = Tensor<T>(Shape{l.batch});
        if (grad) grad->resize(y_pred.shape());
        const index_t k = l.cols;
        const double lo = double(static_cast<T>(1e-7));
        const double hi = double(static_cast<T>(1.0 - 1e-7));
        const double per_row = 1.0 / double(l.rows_per_sample);
        for (index_t r = 0; r < l.rows; ++r) {
            const double label = double(y_true[r]);
            if (!(std::isfinite(label) && label >= 0 && label < double(k) && label == std::floor(label)))
                fail("SparseCategoricalCrossentropy: label ", label, " at sample ", r / l.rows_per_sample,
                     " is not a class index in [0, ", k, ") for y_pred ", y_pred.shape().to_string());
            const index_t y = static_cast<index_t>(label);
            const T* z = y_pred.data() + r * k;
            T* g = grad ? grad->data() + r * k : nullptr;
            double loss;
            if (o_.from_logits) {
                const double m = double(*std::max_element(z, z + k));
                double sum_exp = 0;
                for (index_t c = 0; c < k; ++c) sum_exp += std::exp(double(z[c]) - m);
                const double lse = m + std::log(sum_exp);
                loss = lse - double(z[y]);
                if (g)
                    for (index_t c = 0; c < k; ++c)
                        g[c] = static_cast<T>((std::exp(double(z[c]) - lse) - (c == y ? 1.0 : 0.0)) * per_row);
            } else {
                double sum_pc = 0;
                for (index_t c = 0; c < k; ++c) sum_pc += std::clamp(double(z[c]), lo, hi);
                const double py = std::clamp(double(z[y]), lo, hi);
                loss = std::log(sum_pc) - std::log(py);
                if (g)
                    for (index_t c = 0; c < k; ++c) {
                        const double p = double(z[c]);
                        const double d = (p < lo || p > hi) ? 0.0 : 1.0 / sum_pc - (c == y ? 1.0 / p : 0.0);
                        g[c] = static_cast<T>(d * per_row);
                    }
            }
            losses[r / l.rows_per_sample] += static_cast<T>(loss * per_row);
        }
    }

private:
    SparseCategoricalCrossentropyOptions o_;
};

}  // namespace lumen::losses
