// Activation: an activation function as a layer, Keras' layers.Activation.
//
//   layers::Activation("relu")        also sigmoid, tanh, softmax (last axis), leaky_relu, elu, gelu, swish, linear
//
// Element-wise functions, and softmax along the last axis; the maths of each (forward and derivative) is in
// kernels/activations.hpp and docs/layers.md. Backward needs the output y, and for gelu and swish the input x.
#pragma once

#include <algorithm>
#include <memory>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/kernels/activations.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

struct ActivationOptions {
    std::string name = {};
};

template <class T = float>
class Activation : public Layer<T> {
public:
    explicit Activation(const std::string& activation, ActivationOptions options = {}) {
        this->set_name(options.name);
        fn_ = kernels::activation_from_name(activation, this->where());
    }

    [[nodiscard]] std::string class_name() const override { return "Activation"; }
    [[nodiscard]] kernels::ActivationFn activation() const { return fn_; }

    // x: (N, ...) -> y: (N, ...); softmax normalises each run of the last axis
    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        const index_t cols = last_axis(x), rows = x.size() / std::max<index_t>(cols, 1);
        Tensor<T> y(x.shape());
        kernels::activation_forward(fn_, x.data(), y.data(), rows, cols);
        if (kernels::activation_needs_input(fn_)) x_ = x;
        y_ = y;
        batch_ = x.dim(0);
        return y;
    }

    // dy: (N, ...) -> dx: (N, ...)
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, batch_);
        Tensor<T> dx = dy;
        const index_t cols = last_axis(dy), rows = dy.size() / std::max<index_t>(cols, 1);
        kernels::activation_backward(fn_, x_.empty() ? nullptr : x_.data(), y_.data(), dx.data(), rows, cols);
        return dx;
    }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()}, {"activation", kernels::activation_name(fn_)}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        return std::make_shared<Activation<T>>(config_value(c, "activation", "Activation"),
                                               ActivationOptions{.name = config_value(c, "name", "Activation")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        x_ = Tensor<T>();
        y_ = Tensor<T>();
        batch_ = -1;
        return s;
    }

private:
    static index_t last_axis(const Tensor<T>& t) { return t.dim(t.rank() - 1); }

    kernels::ActivationFn fn_ = kernels::ActivationFn::linear;
    Tensor<T> x_, y_;  // the last forward's input (gelu, swish) and output
    index_t batch_ = -1;
};

}  // namespace lumen::layers
