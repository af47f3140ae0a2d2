// lumen::callbacks::Callback<T> — hooks into fit(), as Keras' keras.callbacks.Callback.
//
// fit() calls, in this order: on_train_begin; per epoch on_epoch_begin(epoch), per batch on_batch_begin(step)
// and on_batch_end(step, logs with the epoch's running loss and metrics), then on_epoch_end(epoch, logs with
// val_ entries); finally on_train_end. Epochs and steps are 0-based, as in Keras. User callbacks run before
// the built-in History and progress bar, so keys they write into the epoch logs (e.g. lr) are shown and kept.
//
// A callback reaches the model through CallbackModel<T> (the part of Sequential a callback may touch), so the
// callbacks do not depend on Sequential.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "lumen/core/tensor.hpp"
#include "lumen/model/History.hpp"

namespace lumen::callbacks {

using model::Logs;

// What a callback may do with the model it is attached to.
template <class T = float>
class CallbackModel {
public:
    virtual ~CallbackModel() = default;
    // All weights, Keras' model.get_weights() order (layer by layer, trainable first).
    [[nodiscard]] virtual std::vector<Tensor<T>> get_weights() = 0;
    virtual void set_weights(const std::vector<Tensor<T>>& weights) = 0;
    virtual void save(const std::string& path, bool include_optimizer = true) = 0;
    virtual void save_weights(const std::string& path) = 0;
    // The compiled optimizer's learning rate (the one its next step uses) and a constant replacement for it.
    [[nodiscard]] virtual double learning_rate() const = 0;
    virtual void set_learning_rate(double lr) = 0;
    // Where fit() writes its progress output; callbacks print their messages there too.
    [[nodiscard]] virtual std::ostream& log_stream() = 0;

    // Keras' model.stop_training: set by a callback, fit() stops after the current batch or epoch.
    bool stop_training = false;
};

template <class T = float>
class Callback {
public:
    virtual ~Callback() = default;

    void set_model(CallbackModel<T>* model) { model_ = model; }
    [[nodiscard]] CallbackModel<T>& model() {
        require(model_ != nullptr, "Callback: used outside fit() (no model attached)");
        return *model_;
    }

    virtual void on_train_begin(Logs& /*logs*/) {}
    virtual void on_train_end(Logs& /*logs*/) {}
    virtual void on_epoch_begin(int /*epoch*/, Logs& /*logs*/) {}
    virtual void on_epoch_end(int /*epoch*/, Logs& /*logs*/) {}
    virtual void on_batch_begin(index_t /*step*/, Logs& /*logs*/) {}
    virtual void on_batch_end(index_t /*step*/, Logs& /*logs*/) {}

private:
    CallbackModel<T>* model_ = nullptr;
};

template <class T = float>
using CallbackPtr = std::shared_ptr<Callback<T>>;

namespace detail {
// Keras' 'auto' mode for EarlyStopping: maximise accuracy-like and auc monitors, minimise the rest.
inline bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
// Resolves mode "min" / "max" / "auto" to "maximise?"; `auto_max` is the 'auto' rule's answer.
inline bool resolve_mode(const std::string& mode, bool auto_max, const std::string& who) {
    require(mode == "auto" || mode == "min" || mode == "max", who, ": mode must be \"auto\", \"min\" or \"max\", got \"",
            mode, "\"");
    return mode == "max" || (mode == "auto" && auto_max);
}
inline std::string available_keys(const Logs& logs) {
    std::string s;
    for (const auto& [k, v] : logs) s += (s.empty() ? "" : ",") + k;
    return s;
}
}  // namespace detail

}  // namespace lumen::callbacks
