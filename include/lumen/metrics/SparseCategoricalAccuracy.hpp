// keras.metrics.SparseCategoricalAccuracy: argmax(y_pred) == y_true for integer labels of shape (N,) or
// (N, 1); ties go to the first index. Averaged over the samples seen.
#pragma once

#include <string>
#include <vector>

#include "lumen/metrics/Metric.hpp"

namespace lumen::metrics {

struct SparseCategoricalAccuracyOptions {
    std::string name = "sparse_categorical_accuracy";
};

template <class T = float>
class SparseCategoricalAccuracy : public MeanMetricWrapper<T> {
public:
    explicit SparseCategoricalAccuracy(SparseCategoricalAccuracyOptions o = {}) : MeanMetricWrapper<T>(o.name) {}
    [[nodiscard]] std::string class_name() const override { return "SparseCategoricalAccuracy"; }

protected:
    void per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred, std::vector<double>& values) const override {
        require(y_pred.rank() >= 2, this->where(), ": y_pred must be (batch, classes), got ",
                y_pred.shape().to_string());
        this->require_label_shape(y_true, y_pred);
        const index_t n = y_pred.dim(0), k = y_pred.dim(-1);
        if (n == 0 || k == 0) return;
        const index_t rows_per_sample = y_pred.size() / k / n;
        for (index_t r = 0; r < n * rows_per_sample; ++r) {
            // Keras compares the label as a number: 2.0 matches class 2, 2.5 matches nothing.
            const bool hit = double(argmax(y_pred.data() + r * k, k)) == double(y_true[r]);
            values[static_cast<std::size_t>(r / rows_per_sample)] += double(hit) / double(rows_per_sample);
        }
    }
};

}  // namespace lumen::metrics
