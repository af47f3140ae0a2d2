// keras.metrics.Mean: the weighted running mean of the values given, sum(w*v) / sum(w). The model uses one to
// report `loss`: update_state(batch_loss, batch_size) after each batch gives Keras' epoch loss, the mean over
// batches weighted by their size.
#pragma once

#include <string>
#include <vector>

#include "lumen/metrics/Metric.hpp"

namespace lumen::metrics {

struct MeanOptions {
    std::string name = "mean";
};

template <class T = float>
class Mean : public Metric<T> {
public:
    explicit Mean(MeanOptions o = {}) : Metric<T>(o.name) {}
    [[nodiscard]] std::string class_name() const override { return "Mean"; }

    // One value with a weight (default 1).
    void update_state(double value, double weight = 1) {
        total_ += weight * value;
        count_ += weight;
    }
    // Every element of `values` with weight 1. (Keras' Mean takes values, not (y_true, y_pred).)
    void update_state(const Tensor<T>& values) {
        for (const T v : values) update_state(double(v));
    }
    // The (y_true, y_pred) form of the Metric interface: averages y_pred, weighting sample i by
    // sample_weight[i] (y_true is ignored), so a Mean can sit in a list of metrics.
    void update_state(const Tensor<T>& /*y_true*/, const Tensor<T>& y_pred,
                      const std::vector<T>* sample_weight = nullptr) override {
        const index_t n = y_pred.rank() ? y_pred.dim(0) : 1;
        if (sample_weight)
            require(static_cast<index_t>(sample_weight->size()) == n, "Mean \"", this->name(), "\": got ",
                    sample_weight->size(), " sample weights for a batch of ", n);
        if (n == 0) return;
        const index_t per = y_pred.size() / n;
        for (index_t j = 0; j < y_pred.size(); ++j)
            update_state(double(y_pred[j]), sample_weight ? double((*sample_weight)[std::size_t(j / per)]) : 1.0);
    }

    [[nodiscard]] double result() const override { return count_ != 0 ? total_ / count_ : 0.0; }
    void reset_state() override { total_ = count_ = 0; }

private:
    double total_ = 0;
    double count_ = 0;
};

}  // namespace lumen::metrics
