// keras.callbacks.LearningRateScheduler: at each epoch begin lr = schedule(epoch, current_lr) (epoch 0-based);
// the epoch-end logs get "lr". verbose > 0 prints
//   "\nEpoch 3: LearningRateScheduler setting learning rate to 0.0005."
#pragma once

#include <cmath>
#include <functional>

#include "lumen/model/callbacks/Callback.hpp"

namespace lumen::callbacks {

template <class T = float>
class LearningRateScheduler : public Callback<T> {
public:
    using Schedule = std::function<double(int epoch, double lr)>;
    explicit LearningRateScheduler(Schedule schedule, int verbose = 0)
        : schedule_(std::move(schedule)), verbose_(verbose) {
        require(static_cast<bool>(schedule_), "LearningRateScheduler: the schedule is empty");
    }

    void on_epoch_begin(int epoch, Logs&) override {
        auto& m = this->model();
        const double lr = schedule_(epoch, double(static_cast<float>(m.learning_rate())));
        require(std::isfinite(lr), "LearningRateScheduler: the schedule returned ", lr, " for epoch ", epoch,
                "; it must return a finite learning rate");
        m.set_learning_rate(lr);
        if (verbose_ > 0)
            m.log_stream() << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to "
                           << model::format_python_float(lr) << ".\n";
    }
    void on_epoch_end(int, Logs& logs) override {
        logs.set("lr", double(static_cast<float>(this->model().learning_rate())));
    }

private:
    Schedule schedule_;
    int verbose_;
};

}  // namespace lumen::callbacks
