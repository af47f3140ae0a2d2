// keras.metrics.Recall (binary, threshold 0.5): true_positives / (true_positives + false_negatives) over
// every element seen (y_pred > threshold is a positive prediction, y_true != 0 a positive target).
// 0 when there was no positive target (Keras' divide_no_nan).
#pragma once

#include <string>
#include <vector>

#include "lumen/metrics/ConfusionCounts.hpp"

namespace lumen::metrics {

struct RecallOptions {
    double thresholds = 0.5;
    std::string name = "recall";
};

template <class T = float>
class Recall : public ConfusionCounts<T> {
public:
    explicit Recall(RecallOptions o = {}) : ConfusionCounts<T>(o.name, o.thresholds) {}
    [[nodiscard]] std::string class_name() const override { return "Recall"; }
    [[nodiscard]] double result() const override {
        const double d = this->true_positives() + this->false_negatives();
        return d > 0 ? this->true_positives() / d : 0.0;
    }
};

}  // namespace lumen::metrics
