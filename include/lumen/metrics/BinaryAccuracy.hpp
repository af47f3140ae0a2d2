// keras.metrics.BinaryAccuracy: per element (y_pred > threshold) == y_true, averaged over the last axis per
// sample, then over the samples seen. Threshold 0.5 by default (for sigmoid probabilities; use 0 for logits).
#pragma once

#include <string>
#include <vector>

#include "lumen/metrics/Metric.hpp"

namespace lumen::metrics {

struct BinaryAccuracyOptions {
    std::string name = "binary_accuracy";
    double threshold = 0.5;
};

template <class T = float>
class BinaryAccuracy : public MeanMetricWrapper<T> {
public:
    explicit BinaryAccuracy(BinaryAccuracyOptions o = {}) : MeanMetricWrapper<T>(o.name), threshold_(o.threshold) {}
    [[nodiscard]] std::string class_name() const override { return "BinaryAccuracy"; }
    [[nodiscard]] double threshold() const { return threshold_; }
    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()}, {"threshold", number_text(threshold_)}};
    }

protected:
    void per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred, std::vector<double>& values) const override {
        this->require_same_shape(y_true, y_pred, "");
        const index_t n = y_pred.dim(0);
        if (n == 0) return;
        const index_t per = y_pred.size() / n;
        const T t = static_cast<T>(threshold_);
        for (index_t i = 0; i < n; ++i) {
            index_t hits = 0;
            for (index_t j = i * per; j < (i + 1) * per; ++j) hits += (y_pred[j] > t ? T(1) : T(0)) == y_true[j];
            values[static_cast<std::size_t>(i)] = double(hits) / double(per);
        }
    }

private:
    double threshold_;
};

}  // namespace lumen::metrics
