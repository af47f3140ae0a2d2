// keras.metrics.TopKCategoricalAccuracy (k = 5): the target class (argmax of the one-hot y_true) is among the
// k largest predictions. As TF's in_top_k: the target counts as in the top k when fewer than k classes have a
// strictly larger prediction (ties at the boundary are in), and a non-finite target prediction never is.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "lumen/metrics/Metric.hpp"

namespace lumen::metrics {

struct TopKCategoricalAccuracyOptions {
    int k = 5;
    std::string name = "top_k_categorical_accuracy";
};

// Whether class `target` is in the top k of the n predictions p.
template <class T>
inline bool in_top_k(const T* p, index_t n, index_t target, int k) {
    if (!std::isfinite(double(p[target]))) return false;
    index_t larger = 0;
    for (index_t c = 0; c < n; ++c) larger += p[c] > p[target];
    return larger < k;
}

template <class T = float>
class TopKCategoricalAccuracy : public MeanMetricWrapper<T> {
public:
    explicit TopKCategoricalAccuracy(TopKCategoricalAccuracyOptions o = {}) : MeanMetricWrapper<T>(o.name), k_(o.k) {
        require(k_ >= 1, "TopKCategoricalAccuracy: k must be >= 1, got ", k_);
    }
    [[nodiscard]] std::string class_name() const override { return "TopKCategoricalAccuracy"; }
    [[nodiscard]] int k() const { return k_; }
    [[nodiscard]] Config get_config() const override { return {{"name", this->name()}, {"k", std::to_string(k_)}}; }

protected:
    void per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred, std::vector<double>& values) const override {
        require(y_pred.rank() >= 2 && y_true.shape() == y_pred.shape(), this->where(), ": y_true shape ",
                y_true.shape().to_string(), " does not match y_pred shape ", y_pred.shape().to_string(),
                "; one-hot targets need one column per class (use sparse_top_k_categorical_accuracy for labels)");
        const index_t n = y_pred.dim(0), classes = y_pred.dim(-1);
        if (n == 0 || classes == 0) return;
        const index_t rows_per_sample = y_pred.size() / classes / n;
        for (index_t r = 0; r < n * rows_per_sample; ++r) {
            const index_t target = argmax(y_true.data() + r * classes, classes);
            const bool hit = in_top_k(y_pred.data() + r * classes, classes, target, k_);
            values[static_cast<std::size_t>(r / rows_per_sample)] += double(hit) / double(rows_per_sample);
        }
    }

private:
    int k_;
};

}  // namespace lumen::metrics
