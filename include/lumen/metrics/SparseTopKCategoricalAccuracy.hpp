// keras.metrics.SparseTopKCategoricalAccuracy (k = 5): TopKCategoricalAccuracy for integer labels of shape
// (N,) or (N, 1). A label that is not a class index in [0, K) counts as wrong.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "lumen/metrics/TopKCategoricalAccuracy.hpp"

namespace lumen::metrics {

struct SparseTopKCategoricalAccuracyOptions {
    int k = 5;
    std::string name = "sparse_top_k_categorical_accuracy";
};

template <class T = float>
class SparseTopKCategoricalAccuracy : public MeanMetricWrapper<T> {
public:
    explicit SparseTopKCategoricalAccuracy(SparseTopKCategoricalAccuracyOptions o = {})
        : MeanMetricWrapper<T>(o.name), k_(o.k) {
        require(k_ >= 1, "SparseTopKCategoricalAccuracy: k must be >= 1, got ", k_);
    }
    [[nodiscard]] std::string class_name() const override { return "SparseTopKCategoricalAccuracy"; }
    [[nodiscard]] int k() const { return k_; }
    [[nodiscard]] Config get_config() const override { return {{"name", this->name()}, {"k", std::to_string(k_)}}; }

protected:
    void per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred, std::vector<double>& values) const override {
        require(y_pred.rank() >= 2, this->where(), ": y_pred must be (batch, classes), got ",
                y_pred.shape().to_string());
        this->require_label_shape(y_true, y_pred);
        const index_t n = y_pred.dim(0), classes = y_pred.dim(-1);
        if (n == 0 || classes == 0) return;
        const index_t rows_per_sample = y_pred.size() / classes / n;
        for (index_t r = 0; r < n * rows_per_sample; ++r) {
            const double label = double(y_true[r]);
            const bool valid = label >= 0 && label < double(classes) && label == std::floor(label);
            const bool hit = valid && in_top_k(y_pred.data() + r * classes, classes, index_t(label), k_);
            values[static_cast<std::size_t>(r / rows_per_sample)] += double(hit) / double(rows_per_sample);
        }
    }

private:
    int k_;
};

}  // namespace lumen::metrics
