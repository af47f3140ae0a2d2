// keras.losses.CategoricalCrossentropy (Keras 3 / tf.keras >= 2.11; see docs/losses_and_optimizers.md).
//
// y_true one-hot (or any distribution), y_pred (N, ..., K). Label smoothing: y_s = y*(1 - ls) + ls/K.
//   from_logits (softmax fused, log-sum-exp so logits of +-100 stay finite):
//       l = -sum_k y_s,k * log_softmax(z)_k = S*lse(z) - sum_k y_s,k z_k,  S = sum_k y_s,k
//       dl/dz = S*softmax(z) - y_s              (= softmax - y_s, TF's fused gradient, when S = 1)
//   probabilities: q = p / sum_k p_k, q_c = clip(q, eps, 1 - eps), l = -sum_k y_s,k log q_c,k
//       dl/dq_k = -y_s,k / q_k (0 where clipped), dl/dp_k = (dl/dq_k - sum_j dl/dq_j q_j) / sum p
// Per-sample loss = l (averaged over middle axes, if any); loss = mean over the batch.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lumen/losses/loss.hpp"

namespace lumen::losses {

struct CategoricalCrossentropyOptions {
    bool from_logits = false;
    double label_smoothing = 0;
    std::string name = "categorical_crossentropy";
};

template <class T = float>
class CategoricalCrossentropy : public LossFunction<T> {
public:
    explicit CategoricalCrossentropy(CategoricalCrossentropyOptions options = {}) : o_(std::move(options)) {
        require(o_.label_smoothing >= 0 && o_.label_smoothing <= 1,
                "CategoricalCrossentropy: label_smoothing must be in [0, 1], got ", o_.label_smoothing);
    }

    [[nodiscard]] std::string name() const override { return o_.name; }
    [[nodiscard]] std::string class_name() const override { return "CategoricalCrossentropy"; }
    [[nodiscard]] bool from_logits() const override { return o_.from_logits; }
    [[nodiscard]] double label_smoothing() const { return o_.label_smoothing; }
    [[nodiscard]] Config get_config() const override {
        return {{"name", o_.name},
                {"from_logits", bool_text(o_.from_logits)},
                {"label_smoothing", number_text(o_.label_smoothing)}};
    }

protected:
    void evaluate(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>& losses, Tensor<T>* grad) const override {
        const RowLayout l = this->layout(y_pred, true);
        require(y_true.shape() == y_pred.shape(), "CategoricalCrossentropy: y_true shape ", y_true.shape().to_string(),
                " does not match y_pred shape ", y_pred.shape().to_string(),
                "; targets must be one-hot with one column per class (for integer labels use "
                "SparseCategoricalCrossentropy)");
        this->check_no_nan(y_true);
        losses = Tensor<T>(Shape{l.batch});
        if (grad) grad->resize(y_pred.shape());
        const index_t k = l.cols;
        const double ls = o_.label_smoothing;
        const double lo = double(static_cast<T>(1e-7));
        const double hi = double(static_cast<T>(1.0 - 1e-7));
        const double per_row = 1.0 / double(l.rows_per_sample);
        std::vector<double> ys(static_cast<std::size_t>(k)), dq(static_cast<std::size_t>(k));
        for (index_t r = 0; r < l.rows; ++r) {
            const T* z = y_pred.data() + r * k;
            const T* y = y_true.data() + r * k;
            T* g = grad ? grad->data() + r * k : nullptr;
            double s = 0;
            for (index_t c = 0; c < k; ++c) s += (ys[std::size_t(c)] = double(y[c]) * (1 - ls) + ls / double(k));
            double loss = 0;
            if (o_.from_logits) {
                const double m = double(*std::max_element(z, z + k));
                double sum_exp = 0;
                for (index_t c = 0; c < k; ++c) sum_exp += std::exp(double(z[c]) - m);
                const double lse = m + std::log(sum_exp);
                for (index_t c = 0; c < k; ++c) loss -= ys[std::size_t(c)] * (double(z[c]) - lse);
                if (g)
                    for (index_t c = 0; c < k; ++c)
                        g[c] = static_cast<T>((s * std::exp(double(z[c]) - lse) - ys[std::size_t(c)]) * per_row);
            } else {
                double sum_p = 0;
                for (index_t c = 0; c < k; ++c) sum_p += double(z[c]);
                double dot = 0;  // sum_j dl/dq_j * q_j
                for (index_t c = 0; c < k; ++c) {
                    const double q = double(z[c]) / sum_p;
                    const double qc = std::clamp(q, lo, hi);
                    loss -= ys[std::size_t(c)] * std::log(qc);
                    dq[std::size_t(c)] = (q < lo || q > hi) ? 0.0 : -ys[std::size_t(c)] / q;
                    dot += dq[std::size_t(c)] * q;
                }
                if (g)
                    for (index_t c = 0; c < k; ++c) g[c] = static_cast<T>((dq[std::size_t(c)] - dot) / sum_p * per_row);
            }
            losses[r / l.rows_per_sample] += static_cast<T>(loss * per_row);
        }
    }

private:
    CategoricalCrossentropyOptions o_;
};

}  // namespace lumen::losses
