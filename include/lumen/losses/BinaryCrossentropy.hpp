// keras.losses.BinaryCrossentropy (Keras 3 / tf.keras >= 2.11 formulas; see docs/losses_and_optimizers.md).
//
// y_true, y_pred: (N, ..., C) with targets in [0, 1]. Label smoothing: y <- y*(1 - ls) + 0.5*ls.
//   from_logits:  l = max(z, 0) - z*y + log(1 + exp(-|z|))          dl/dz = sigmoid(z) - y
//   probabilities: p = clip(y_pred, eps, 1 - eps), eps = 1e-7 in T
//                 l = -(y log p + (1 - y) log(1 - p))               dl/dp = (p - y) / (p (1 - p)), 0 where clipped
// Per-sample loss = mean of l over the last axis (and the middle axes); loss = mean over the batch.
// Keras 3 takes log(p); tf.keras 2.x took log(p + eps): the two agree to ~1e-7 except at the clip edges.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "lumen/losses/loss.hpp"

namespace lumen::losses {

struct BinaryCrossentropyOptions {
    bool from_logits = false;
    double label_smoothing = 0;
    std::string name = "binary_crossentropy";
};

template <class T = float>
class BinaryCrossentropy : public LossFunction<T> {
public:
    explicit BinaryCrossentropy(BinaryCrossentropyOptions options = {}) : o_(std::move(options)) {
        require(o_.label_smoothing >= 0 && o_.label_smoothing <= 1,
                "BinaryCrossentropy: label_smoothing must be in [0, 1], got ", o_.label_smoothing);
    }

    [[nodiscard]] std::string name() const override { return o_.name; }
    [[nodiscard]] std::string class_name() const override { return "BinaryCrossentropy"; }
    [[nodiscard]] bool from_logits() const override { return o_.from_logits; }
    [[nodiscard]] double label_smoothing() const { return o_.label_smoothing; }
    [[nodiscard]] Config get_config() const override {
        return {{"name", o_.name},
                {"from_logits", bool_text(o_.from_logits)},
                {"label_smoothing", number_text(o_.label_smoothing)}};
    }

protected:
    void evaluate(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>& losses, Tensor<T>* grad) const override {
        const RowLayout l = this->layout(y_pred, false);
        this->check_dense_targets(y_true, y_pred);
        losses = Tensor<T>(Shape{l.batch});
        if (grad) grad->resize(y_pred.shape());
        const double ls = o_.label_smoothing;
        // The clip bounds as T rounds them (float32: 1.00000001e-07 and 0.99999988), as TF does.
        const double lo = double(static_cast<T>(1e-7));
        const double hi = double(static_cast<T>(1.0 - 1e-7));
        const double per_element = 1.0 / double(l.cols * l.rows_per_sample);
        for (index_t r = 0; r < l.rows; ++r) {
            double sum = 0;
            for (index_t c = 0; c < l.cols; ++c) {
                const index_t i = r * l.cols + c;
                const double y = double(y_true[i]) * (1 - ls) + 0.5 * ls;
                const double z = double(y_pred[i]);
                double d;
                if (o_.from_logits) {
                    sum += std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z)));
                    d = sigmoid(z) - y;
                } else {
                    const double p = std::clamp(z, lo, hi);
                    sum += -(y * std::log(p) + (1 - y) * std::log(1 - p));
                    d = (z < lo || z > hi) ? 0.0 : (p - y) / (p * (1 - p));
                }
                if (grad) (*grad)[i] = static_cast<T>(d * per_element);
            }
            losses[r / l.rows_per_sample] += static_cast<T>(sum * per_element);
        }
    }

private:
    static double sigmoid(double z) {
        if (z >= 0) return 1 / (1 + std::exp(-z));
        const double e = std::exp(z);
        return e / (1 + e);
    }

    BinaryCrossentropyOptions o_;
};

}  // namespace lumen::losses
