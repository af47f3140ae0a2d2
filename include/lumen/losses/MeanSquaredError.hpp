// keras.losses.MeanSquaredError: l = mean over the last axis of (y_true - y_pred)^2; loss = mean over the batch.
// dl/dy_pred = 2 (y_pred - y_true) / C for C values per sample.
#pragma once

#include <string>

#include "lumen/losses/loss.hpp"

namespace lumen::losses {

struct MeanSquaredErrorOptions {
    std::string name = "mean_squared_error";
};

template <class T = float>
class MeanSquaredError : public LossFunction<T> {
public:
    explicit MeanSquaredError(MeanSquaredErrorOptions options = {}) : o_(std::move(options)) {}

    [[nodiscard]] std::string name() const override { return o_.name; }
    [[nodiscard]] std::string class_name() const override { return "MeanSquaredError"; }
    [[nodiscard]] Config get_config() const override { return {{"name", o_.name}}; }

protected:
    void evaluate(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>& losses, Tensor<T>* grad) const override {
        const RowLayout l = this->layout(y_pred, false);
        this->check_dense_targets(y_true, y_pred);
        losses = Tensor<T>(Shape{l.batch});
        if (grad) grad->resize(y_pred.shape());
        const double per_element = 1.0 / double(l.cols * l.rows_per_sample);
        for (index_t r = 0; r < l.rows; ++r) {
            double sum = 0;
            for (index_t c = 0; c < l.cols; ++c) {
                const index_t i = r * l.cols + c;
                const double diff = double(y_pred[i]) - double(y_true[i]);
                sum += diff * diff;
                if (grad) (*grad)[i] = static_cast<T>(2 * diff * per_element);
            }
            losses[r / l.rows_per_sample] += static_cast<T>(sum * per_element);
        }
    }

private:
    MeanSquaredErrorOptions o_;
};

}  // namespace lumen::losses
