// keras.callbacks.TerminateOnNaN: stops training at the first batch whose loss is NaN or infinite.
// Message: "Batch 17: Invalid loss, terminating training". fit() never applies the update of such a batch, so
// the model keeps the weights of the last good step; with this callback fit() returns normally instead of
// throwing.
#pragma once

#include <cmath>

#include "lumen/model/callbacks/Callback.hpp"

namespace lumen::callbacks {

template <class T = float>
class TerminateOnNaN : public Callback<T> {
public:
    void on_batch_end(index_t step, Logs& logs) override {
        const auto loss = logs.find("loss");
        if (loss && !std::isfinite(*loss)) {
            this->model().log_stream() << "Batch " << step << ": Invalid loss, terminating training\n";
            this->model().stop_training = true;
        }
    }
};

}  // namespace lumen::callbacks
