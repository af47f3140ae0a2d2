// keras.callbacks.LambdaCallback: plain functions called at the hooks, e.g.
//   callbacks::LambdaCallback<>({.on_epoch_end = [&](int epoch, model::Logs& logs) { ... }})
#pragma once

#include <functional>

#include "lumen/model/callbacks/Callback.hpp"

namespace lumen::callbacks {

struct LambdaCallbackOptions {
    std::function<void(int, Logs&)> on_epoch_begin = {};
    std::function<void(int, Logs&)> on_epoch_end = {};
    std::function<void(index_t, Logs&)> on_batch_begin = {};
    std::function<void(index_t, Logs&)> on_batch_end = {};
    std::function<void(Logs&)> on_train_begin = {};
    std::function<void(Logs&)> on_train_end = {};
};

template <class T = float>
class LambdaCallback : public Callback<T> {
public:
    explicit LambdaCallback(LambdaCallbackOptions fns) : f_(std::move(fns)) {}
    void on_epoch_begin(int e, Logs& l) override { if (f_.on_epoch_begin) f_.on_epoch_begin(e, l); }
    void on_epoch_end(int e, Logs& l) override { if (f_.on_epoch_end) f_.on_epoch_end(e, l); }
    void on_batch_begin(index_t s, Logs& l) override { if (f_.on_batch_begin) f_.on_batch_begin(s, l); }
    void on_batch_end(index_t s, Logs& l) override { if (f_.on_batch_end) f_.on_batch_end(s, l); }
    void on_train_begin(Logs& l) override { if (f_.on_train_begin) f_.on_train_begin(l); }
    void on_train_end(Logs& l) override { if (f_.on_train_end) f_.on_train_end(l); }

private:
    LambdaCallbackOptions f_;
};

}  // namespace lumen::callbacks
