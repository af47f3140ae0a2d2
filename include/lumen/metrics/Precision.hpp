// keras.metrics.Precision (binary, threshold 0.5): true_positives / (true_positives + false_positives) over
// every element seen, where an element is predicted positive when y_pred > threshold and is positive when
// y_true != 0. 0 when nothing was predicted positive (Keras' divide_no_nan).
#pragma once

#include <string>
#include <vector>

#include "lumen/metrics/ConfusionCounts.hpp"

namespace lumen::metrics {

struct PrecisionOptions {
    double thresholds = 0.5;
    std::string name = "precision";
};

template <class T = float>
class Precision : public ConfusionCounts<T> {
public:
    explicit Precision(PrecisionOptions o = {}) : ConfusionCounts<T>(o.name, o.thresholds) {}
    [[nodiscard]] std::string class_name() const override { return "Precision"; }
    [[nodiscard]] double result() const override {
        const double d = this->true_positives() + this->false_positives();
        return d > 0 ? this->true_positives() / d : 0.0;
    }
};

}  // namespace lumen::metrics
