// lumen::metrics::Metric<T> — a running statistic over the batches of an epoch (Keras' Metric):
//   update_state(y_true, y_pred[, sample_weight])  adds one batch;
//   result()                                       the value so far (what the progress bar and History show);
//   reset_state()                                  forgets everything (the model calls it at each epoch start).
// MeanMetricWrapper<T> is Keras' class of the same name: a per-sample value (1 = correct, 0 = wrong for the
// accuracies) averaged over every sample seen, weighted by sample_weight when given.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::metrics {

// A number as the shortest text that reads back to the same double (for get_config()).
inline std::string number_text(double v) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

template <class T = float>
class Metric {
public:
    explicit Metric(std::string name) : name_(std::move(name)) {}
    virtual ~Metric() = default;

    // The history key: the name the user chose ("accuracy", "acc", ...) or Keras' default.
    [[nodiscard]] const std::string& name() const { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }
    // Keras' class name, e.g. "BinaryAccuracy".
    [[nodiscard]] virtual std::string class_name() const = 0;

    // Adds a batch: y_true / y_pred with the batch axis first; sample_weight, when given, has one weight per
    // sample.
    virtual void update_state(const Tensor<T>& y_true, const Tensor<T>& y_pred,
                              const std::vector<T>* sample_weight = nullptr) = 0;
    [[nodiscard]] virtual double result() const = 0;
    virtual void reset_state() = 0;

    [[nodiscard]] virtual Config get_config() const { return {{"name", name_}}; }

private:
    std::string name_;
};

template <class T = float>
using MetricPtr = std::shared_ptr<Metric<T>>;

// The index of the largest of n values; ties go to the first (TF's argmax; NaN is never picked over a number).
template <class T>
inline index_t argmax(const T* v, index_t n) {
    index_t best = 0;
    for (index_t i = 1; i < n; ++i)
        if (v[i] > v[best] || (std::isnan(double(v[best])) && !std::isnan(double(v[i])))) best = i;
    return best;
}

template <class T = float>
class MeanMetricWrapper : public Metric<T> {
public:
    using Metric<T>::Metric;

    void update_state(const Tensor<T>& y_true, const Tensor<T>& y_pred,
                      const std::vector<T>* sample_weight = nullptr) override {
        require(y_pred.rank() >= 1, this->class_name(), " \"", this->name(), "\": y_pred must have a batch axis, got ",
                y_pred.shape().to_string());
        const index_t n = y_pred.dim(0);
        if (sample_weight)
            require(static_cast<index_t>(sample_weight->size()) == n, this->class_name(), " \"", this->name(),
                    "\": got ", sample_weight->size(), " sample weights for a batch of ", n);
        std::vector<double> values(static_cast<std::size_t>(n), 0.0);
        per_sample(y_true, y_pred, values);
        for (index_t i = 0; i < n; ++i) {
            const double w = sample_weight ? double((*sample_weight)[static_cast<std::size_t>(i)]) : 1.0;
            total_ += w * values[static_cast<std::size_t>(i)];
            count_ += w;
        }
    }
    [[nodiscard]] double result() const override { return count_ > 0 ? total_ / count_ : 0.0; }
    void reset_state() override { total_ = count_ = 0; }

protected:
    // values[i] <- the metric of sample i (mean over the sample's rows when y_pred has middle axes).
    virtual void per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred, std::vector<double>& values) const = 0;

    // "BinaryAccuracy \"accuracy\"": the start of error messages.
    [[nodiscard]] std::string where() const { return this->class_name() + " \"" + this->name() + "\""; }

    // y_true must have y_pred's shape, up to a trailing axis of 1 on either side.
    void require_same_shape(const Tensor<T>& y_true, const Tensor<T>& y_pred, const char* hint) const {
        auto squeeze = [](const Shape& s) {
            std::vector<index_t> d = s.dims();
            if (d.size() >= 2 && d.back() == 1) d.pop_back();
            return Shape(d);
        };
        require(y_true.shape() == y_pred.shape() || squeeze(y_true.shape()) == squeeze(y_pred.shape()), where(),
                ": y_true shape ", y_true.shape().to_string(), " does not match y_pred shape ",
                y_pred.shape().to_string(), hint);
    }
    // Sparse labels: y_pred's shape without its class axis, or with a class axis of 1.
    void require_label_shape(const Tensor<T>& y_true, const Tensor<T>& y_pred) const {
        std::vector<index_t> rows(y_pred.shape().dims().begin(), y_pred.shape().dims().end() - 1);
        std::vector<index_t> with_one = rows;
        with_one.push_back(1);
        require(y_true.shape() == Shape(rows) || y_true.shape() == Shape(with_one), where(), ": y_true shape ",
                y_true.shape().to_string(), " does not fit y_pred shape ", y_pred.shape().to_string(),
                "; expected integer labels of shape ", Shape(rows).to_string());
    }

private:
    double total_ = 0;
    double count_ = 0;
};

}  // namespace lumen::metrics
