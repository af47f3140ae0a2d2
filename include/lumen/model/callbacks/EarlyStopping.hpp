// keras.callbacks.EarlyStopping (Keras 2.15 semantics, spec §8).
//
// Each epoch end: improvement means current < best - |min_delta| (min mode) or current - |min_delta| > best
// (max mode). An improvement records best, its epoch and (restore_best_weights) a copy of the weights and resets
// the wait counter (only if the baseline is beaten too, when one is given); otherwise, once `wait >= patience`
// (and epoch > 0), training stops and the best weights are restored if asked. Messages:
//   "Restoring model weights from the end of the best epoch: 3."   "Epoch 7: early stopping"
#pragma once

#include <cmath>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "lumen/model/callbacks/Callback.hpp"

namespace lumen::callbacks {

struct EarlyStoppingOptions {
    std::string monitor = "val_loss";
    double min_delta = 0;
    int patience = 0;
    int verbose = 0;
    std::string mode = "auto";
    std::optional<double> baseline = {};
    bool restore_best_weights = false;
    int start_from_epoch = 0;
};

template <class T = float>
class EarlyStopping : public Callback<T> {
public:
    explicit EarlyStopping(EarlyStoppingOptions options = {}) : o_(std::move(options)) {
        const std::string& m = o_.monitor;
        maximize_ = detail::resolve_mode(
            o_.mode, detail::ends_with(m, "acc") || detail::ends_with(m, "accuracy") || detail::ends_with(m, "auc"),
            "EarlyStopping");
        require(o_.patience >= 0, "EarlyStopping: patience must be >= 0, got ", o_.patience);
    }

    void on_train_begin(Logs&) override {
        wait_ = 0;
        stopped_epoch_ = 0;
        best_ = o_.baseline.value_or(maximize_ ? -std::numeric_limits<double>::infinity()
                                               : std::numeric_limits<double>::infinity());
        best_weights_.clear();
        best_epoch_ = 0;
    }

    void on_epoch_end(int epoch, Logs& logs) override {
        const auto current = logs.find(o_.monitor);
        if (!current) {
            this->model().log_stream() << "WARNING: Early stopping conditioned on metric `" << o_.monitor
                                       << "` which is not available. Available metrics are: "
                                       << detail::available_keys(logs) << "\n";
            return;
        }
        if (epoch < o_.start_from_epoch) return;
        if (o_.restore_best_weights && best_weights_.empty()) best_weights_ = this->model().get_weights();
        ++wait_;
        if (improves(*current, best_)) {
            best_ = *current;
            best_epoch_ = epoch;
            if (o_.restore_best_weights) best_weights_ = this->model().get_weights();
            if (!o_.baseline || improves(*current, *o_.baseline)) wait_ = 0;
            return;
        }
        if (wait_ >= o_.patience && epoch > 0) {
            stopped_epoch_ = epoch;
            this->model().stop_training = true;
            if (o_.restore_best_weights && !best_weights_.empty()) {
                if (o_.verbose > 0)
                    this->model().log_stream() << "Restoring model weights from the end of the best epoch: "
                                               << best_epoch_ + 1 << ".\n";
                this->model().set_weights(best_weights_);
            }
        }
    }

    void on_train_end(Logs&) override {
        if (stopped_epoch_ > 0 && o_.verbose > 0)
            this->model().log_stream() << "Epoch " << stopped_epoch_ + 1 << ": early stopping\n";
    }

    // 0-based epoch at which training was stopped (0: not stopped), and the best value and its epoch.
    [[nodiscard]] int stopped_epoch() const { return stopped_epoch_; }
    [[nodiscard]] double best() const { return best_; }
    [[nodiscard]] int best_epoch() const { return best_epoch_; }

private:
    [[nodiscard]] bool improves(double current, double reference) const {
        const double d = std::abs(o_.min_delta);
        return maximize_ ? current - d > reference : current + d < reference;
    }

    EarlyStoppingOptions o_;
    bool maximize_ = false;
    int wait_ = 0;
    int stopped_epoch_ = 0;
    double best_ = 0;
    int best_epoch_ = 0;
    std::vector<Tensor<T>> best_weights_;
};

}  // namespace lumen::callbacks
