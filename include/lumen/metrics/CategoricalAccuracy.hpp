// keras.metrics.CategoricalAccuracy: argmax(y_pred) == argmax(y_true) along the last axis (one-hot targets);
// ties go to the first index. Averaged over the samples seen.
#pragma once

#include <string>
#include <vector>

#include "lumen/metrics/Metric.hpp"

namespace lumen::metrics {

struct CategoricalAccuracyOptions {
    std::string name = "categorical_accuracy";
};

template <class T = float>
class CategoricalAccuracy : public MeanMetricWrapper<T> {
public:
    explicit CategoricalAccuracy(CategoricalAccuracyOptions o = {}) : MeanMetricWrapper<T>(o.name) {}
    [[nodiscard]] std::string class_name() const override { return "CategoricalAccuracy"; }

protected:
    void per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred, std::vector<double>& values) const override {
        require(y_pred.rank() >= 2 && y_true.shape() == y_pred.shape(), this->where(), ": y_true shape ",
                y_true.shape().to_string(), " does not match y_pred shape ", y_pred.shape().to_string(),
                "; one-hot targets need one column per class (use sparse_categorical_accuracy for labels)");
        const index_t n = y_pred.dim(0), k = y_pred.dim(-1);
        if (n == 0 || k == 0) return;
        const index_t rows_per_sample = y_pred.size() / k / n;
        for (index_t r = 0; r < n * rows_per_sample; ++r) {
            const bool hit = argmax(y_pred.data() + r * k, k) == argmax(y_true.data() + r * k, k);
            values[static_cast<std::size_t>(r / rows_per_sample)] += double(hit) / double(rows_per_sample);
        }
    }
};

}  // namespace lumen::metrics
