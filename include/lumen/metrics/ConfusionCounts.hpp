// The shared half of Precision and Recall: weighted counts of true positives, false positives and false
// negatives at one threshold, over every element of y_pred (Keras' update_confusion_matrix_variables).
// A sample's weight applies to each of its elements.
#pragma once

#include <string>
#include <vector>

#include "lumen/metrics/Metric.hpp"

namespace lumen::metrics {

template <class T = float>
class ConfusionCounts : public Metric<T> {
public:
    ConfusionCounts(std::string name, double threshold) : Metric<T>(std::move(name)), threshold_(threshold) {
        require(threshold_ >= 0 && threshold_ <= 1, "Precision/Recall \"", this->name(),
                "\": thresholds must be in [0, 1], got ", threshold_);
    }

    void update_state(const Tensor<T>& y_true, const Tensor<T>& y_pred,
                      const std::vector<T>* sample_weight = nullptr) override {
        auto squeeze = [](const Shape& s) {
            std::vector<index_t> d = s.dims();
            if (d.size() >= 2 && d.back() == 1) d.pop_back();
            return Shape(d);
        };
        const std::string where = this->class_name() + " \"" + this->name() + "\"";
        require(y_pred.rank() >= 1 &&
                    (y_true.shape() == y_pred.shape() || squeeze(y_true.shape()) == squeeze(y_pred.shape())),
                where, ": y_true shape ", y_true.shape().to_string(), " does not match y_pred shape ",
                y_pred.shape().to_string());
        const index_t n = y_pred.dim(0);
        if (sample_weight)
            require(static_cast<index_t>(sample_weight->size()) == n, where, ": got ", sample_weight->size(),
                    " sample weights for a batch of ", n);
        if (n == 0) return;
        const index_t per = y_pred.size() / n;
        const T t = static_cast<T>(threshold_);
        for (index_t j = 0; j < y_pred.size(); ++j) {
            const double w = sample_weight ? double((*sample_weight)[static_cast<std::size_t>(j / per)]) : 1.0;
            const bool predicted = y_pred[j] > t;
            const bool actual = y_true[j] != T(0);
            if (predicted && actual) tp_ += w;
            if (predicted && !actual) fp_ += w;
            if (!predicted && actual) fn_ += w;
        }
    }
    void reset_state() override { tp_ = fp_ = fn_ = 0; }

    [[nodiscard]] double true_positives() const { return tp_; }
    [[nodiscard]] double false_positives() const { return fp_; }
    [[nodiscard]] double false_negatives() const { return fn_; }
    [[nodiscard]] double thresholds() const { return threshold_; }
    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()}, {"thresholds", number_text(threshold_)}};
    }

private:
    double threshold_;
    double tp_ = 0, fp_ = 0, fn_ = 0;
};

}  // namespace lumen::metrics
