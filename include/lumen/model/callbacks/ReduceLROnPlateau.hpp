// keras.callbacks.ReduceLROnPlateau (Keras 2.15 semantics, spec §8).
//
// Each epoch end (writes the current learning rate into the logs as "lr" first): in cooldown -> cooldown -= 1,
// wait = 0; better (current < best - min_delta, or > best + min_delta in max mode) -> best = current, wait = 0;
// else outside cooldown wait += 1 and once wait >= patience and lr > min_lr: lr = max(lr * factor, min_lr),
// message "\nEpoch 5: ReduceLROnPlateau reducing learning rate to 0.00010000000474974513.", cooldown restarts.
#pragma once

#include <algorithm>
#include <limits>
#include <string>

#include "lumen/model/callbacks/Callback.hpp"

namespace lumen::callbacks {

struct ReduceLROnPlateauOptions {
    std::string monitor = "val_loss";
    double factor = 0.1;
    int patience = 10;
    int verbose = 0;
    std::string mode = "auto";
    double min_delta = 1e-4;
    int cooldown = 0;
    double min_lr = 0;
};

template <class T = float>
class ReduceLROnPlateau : public Callback<T> {
public:
    explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {}) : o_(std::move(options)) {
        require(o_.factor < 1.0, "ReduceLROnPlateau does not support a factor >= 1.0, got ", o_.factor);
        maximize_ = detail::resolve_mode(o_.mode, o_.monitor.find("acc") != std::string::npos, "ReduceLROnPlateau");
    }

    void on_train_begin(Logs&) override {
        best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        wait_ = 0;
        cooldown_counter_ = 0;
    }

    void on_epoch_end(int epoch, Logs& logs) override {
        auto& m = this->model();
        logs.set("lr", double(static_cast<float>(m.learning_rate())));  // Keras reads the float32 variable
        const auto current = logs.find(o_.monitor);
        if (!current) {
            m.log_stream() << "WARNING: Learning rate reduction is conditioned on metric `" << o_.monitor
                           << "` which is not available. Available metrics are: " << detail::available_keys(logs)
                           << "\n";
            return;
        }
        if (cooldown_counter_ > 0) {
            --cooldown_counter_;
            wait_ = 0;
        }
        if (better(*current)) {
            best_ = *current;
            wait_ = 0;
        } else if (cooldown_counter_ == 0) {
            ++wait_;
            if (wait_ >= o_.patience) {
                const double old_lr = double(static_cast<float>(m.learning_rate()));
                if (old_lr > double(static_cast<float>(o_.min_lr))) {
                    const double new_lr = std::max(old_lr * o_.factor, o_.min_lr);
                    m.set_learning_rate(new_lr);
                    if (o_.verbose > 0)
                        m.log_stream() << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to "
                                       << model::format_python_float(new_lr) << ".\n";
                    cooldown_counter_ = o_.cooldown;
                    wait_ = 0;
                }
            }
        }
    }

private:
    [[nodiscard]] bool better(double current) const {
        return maximize_ ? current > best_ + o_.min_delta : current < best_ - o_.min_delta;
    }

    ReduceLROnPlateauOptions o_;
    bool maximize_ = false;
    double best_ = 0;
    int wait_ = 0;
    int cooldown_counter_ = 0;
};

}  // namespace lumen::callbacks
