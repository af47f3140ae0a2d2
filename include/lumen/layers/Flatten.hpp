// Flatten: every sample to one feature vector, Keras' layers.Flatten.
//
//   (N, H, W, C) -> (N, H*W*C)       feature index (h*W + w)*C + c: row-major, channels fastest (NHWC)
// Row-major storage already is that order, so forward and backward only change the shape.
#pragma once

#include <memory>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

struct FlattenOptions {
    std::string name = {};
};

template <class T = float>
class Flatten : public Layer<T> {
public:
    Flatten(FlattenOptions options = {}) { this->set_name(options.name); }

    [[nodiscard]] std::string class_name() const override { return "Flatten"; }

    // x: (N, d1, d2, ...) -> y: (N, d1*d2*...)
    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        batch_ = x.dim(0);
        return x.reshaped(this->output_shape().with_batch(batch_));
    }

    // dy: (N, d1*d2*...) -> dx: (N, d1, d2, ...)
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, batch_);
        return dy.reshaped(this->input_shape().with_batch(batch_));
    }

    [[nodiscard]] Config get_config() const override { return {{"name", this->name()}}; }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        return std::make_shared<Flatten<T>>(FlattenOptions{.name = config_value(c, "name", "Flatten")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        require(s.rank() >= 1, this->where(), ": expects an input with at least one axis besides the batch, got ",
                s.to_keras_string());
        batch_ = -1;
        return Shape{s.size()};
    }

private:
    index_t batch_ = -1;
};

}  // namespace lumen::layers
