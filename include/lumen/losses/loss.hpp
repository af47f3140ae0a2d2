// lumen::losses::Loss<T> — what every loss is.
//
// Keras' reduction "sum_over_batch_size": loss = sum_i(w_i * l_i) / N over the N samples of the batch, where
// l_i is the per-sample loss and w_i the sample weight (1 without class_weight). The gradient returned is
// d loss / d y_pred, so it already carries the 1/N factor: layers' gradients are batch means.
//
// LossFunction<T> is the shared half of the built-in losses: each defines evaluate() (per-sample losses and
// their un-reduced derivatives) and this file does the weighting and the 1/N once.
#pragma once

#include <charconv>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::losses {

// A number as the shortest text that reads back to the same double (for get_config()).
inline std::string number_text(double v) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}
// Python-like booleans in configs; reads "True"/"true"/"1".
inline std::string bool_text(bool v) { return v ? "True" : "False"; }
inline bool parse_bool(const std::string& s) { return s == "True" || s == "true" || s == "1"; }

template <class T = float>
class Loss {
public:
    virtual ~Loss() = default;

    // Keras' name, e.g. "binary_crossentropy" (used by compile(), saving and the progress bar).
    [[nodiscard]] virtual std::string name() const = 0;
    // Keras' class name, e.g. "BinaryCrossentropy" (used with get_config() for saving).
    [[nodiscard]] virtual std::string class_name() const { return name(); }
    // Whether y_pred holds logits (true) or probabilities (false).
    [[nodiscard]] virtual bool from_logits() const { return false; }
    // Constructor arguments as text, read back by losses::from_config (losses/get.hpp).
    [[nodiscard]] virtual Config get_config() const { return {}; }

    // Per-sample losses l_i, shape (N,). y_true is one-hot / binary targets shaped like y_pred, or class
    // indices of shape (N,) or (N, 1) for sparse losses.
    [[nodiscard]] virtual Tensor<T> per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred) const = 0;

    // The reduced loss; when grad_y_pred is not null it receives d loss / d y_pred (shape of y_pred).
    // sample_weight, when not null, holds N weights.
    virtual T compute(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>* grad_y_pred = nullptr,
                      const std::vector<T>* sample_weight = nullptr) const = 0;

    // Keras' call syntax: loss(y_true, y_pred).
    T operator()(const Tensor<T>& y_true, const Tensor<T>& y_pred) const { return compute(y_true, y_pred); }
};

template <class T = float>
using LossPtr = std::shared_ptr<Loss<T>>;

// How a y_pred tensor splits into samples and rows: y_pred (N, ..., C) is `rows` rows of `cols` values,
// `rows_per_sample` of them per sample. A rank-1 y_pred (N,) is N rows of one value. Keras averages the
// loss over the middle axes too, so a sample's loss is the mean of its rows' losses.
struct RowLayout {
    index_t batch = 0;
    index_t rows = 0;
    index_t cols = 0;
    index_t rows_per_sample = 0;
};

template <class T = float>
class LossFunction : public Loss<T> {
public:
    [[nodiscard]] Tensor<T> per_sample(const Tensor<T>& y_true, const Tensor<T>& y_pred) const override {
        Tensor<T> losses;
        evaluate(y_true, y_pred, losses, nullptr);
        return losses;
    }

    T compute(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>* grad_y_pred = nullptr,
              const std::vector<T>* sample_weight = nullptr) const override {
        Tensor<T> losses;
        evaluate(y_true, y_pred, losses, grad_y_pred);
        const index_t n = losses.size();
        if (sample_weight)
            require(static_cast<index_t>(sample_weight->size()) == n, this->class_name(), ": got ",
                    sample_weight->size(), " sample weights for a batch of ", n, " (y_pred ",
                    y_pred.shape().to_string(), ")");
        if (n == 0) return T(0);
        double total = 0;
        const index_t per = grad_y_pred ? grad_y_pred->size() / n : 0;
        for (index_t i = 0; i < n; ++i) {
            const double w = sample_weight ? double((*sample_weight)[static_cast<std::size_t>(i)]) : 1.0;
            total += w * double(losses[i]);
            // d (sum_i w_i l_i / N) / d y_pred = w_i/N * d l_i / d y_pred
            if (grad_y_pred) {
                T* g = grad_y_pred->data() + i * per;
                const T scale = static_cast<T>(w / double(n));
                for (index_t j = 0; j < per; ++j) g[j] *= scale;
            }
        }
        return static_cast<T>(total / double(n));
    }

protected:
    // losses (N,) <- l_i; grad (shape of y_pred), when not null, <- d l_i / d y_pred (not yet weighted or
    // divided by N). Throws Error naming the loss for targets that do not fit y_pred.
    virtual void evaluate(const Tensor<T>& y_true, const Tensor<T>& y_pred, Tensor<T>& losses,
                          Tensor<T>* grad) const = 0;

    // Rows of y_pred; a class axis is required (rank >= 2) when `need_classes`.
    [[nodiscard]] RowLayout layout(const Tensor<T>& y_pred, bool need_classes) const {
        require(y_pred.rank() >= (need_classes ? 2 : 1), this->class_name(), ": y_pred must have shape ",
                need_classes ? "(batch, classes)" : "(batch, ...)", ", got ", y_pred.shape().to_string());
        RowLayout l;
        l.batch = y_pred.dim(0);
        l.cols = y_pred.rank() >= 2 ? y_pred.dim(-1) : 1;
        require(l.cols >= 1, this->class_name(), ": y_pred ", y_pred.shape().to_string(), " has no classes");
        l.rows = y_pred.size() / l.cols;
        l.rows_per_sample = l.batch > 0 ? l.rows / l.batch : 0;
        return l;
    }

    // Dense targets: y_true must have y_pred's shape (a trailing axis of 1 may be present or missing on
    // either side, as Keras squeezes it) and no NaN.
    void check_dense_targets(const Tensor<T>& y_true, const Tensor<T>& y_pred) const {
        auto squeeze = [](const Shape& s) {
            std::vector<index_t> d = s.dims();
            if (d.size() >= 2 && d.back() == 1) d.pop_back();
            return Shape(d);
        };
        require(y_true.shape() == y_pred.shape() || squeeze(y_true.shape()) == squeeze(y_pred.shape()),
                this->class_name(), ": y_true shape ", y_true.shape().to_string(), " does not match y_pred shape ",
                y_pred.shape().to_string(),
                this->name().find("categorical") != std::string::npos
                    ? "; one-hot targets need one column per class (integer labels need the sparse_ loss)"
                    : "");
        check_no_nan(y_true);
    }
    void check_no_nan(const Tensor<T>& y_true) const {
        for (index_t i = 0; i < y_true.size(); ++i)
            if (std::isnan(double(y_true[i])))
                fail(this->class_name(), ": y_true ", y_true.shape().to_string(), " holds NaN at flat index ", i);
    }
};

}  // namespace lumen::losses
