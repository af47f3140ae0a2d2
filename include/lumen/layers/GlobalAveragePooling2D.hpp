// GlobalAveragePooling2D: the mean over all pixels, per channel, Keras' layers.GlobalAveragePooling2D.
//
//   (N, H, W, C) -> (N, C)        or (N, 1, 1, C) with {.keepdims = true}
// Backward spreads dy / (H*W) evenly over every pixel. Kernels: kernels/pooling.hpp.
#pragma once

#include <memory>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/kernels/pooling.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

struct GlobalAveragePooling2DOptions {
    bool keepdims = false;
    std::string name = {};
};

template <class T = float>
class GlobalAveragePooling2D : public Layer<T> {
public:
    GlobalAveragePooling2D(GlobalAveragePooling2DOptions options = {}) : keepdims_(options.keepdims) {
        this->set_name(options.name);
    }

    [[nodiscard]] std::string class_name() const override { return "GlobalAveragePooling2D"; }

    // x: (N, H, W, C) -> y: (N, C) or (N, 1, 1, C)
    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        const Shape& s = this->input_shape();
        batch_ = x.dim(0);
        Tensor<T> y(this->output_shape().with_batch(batch_));
        kernels::global_average_pool_forward(batch_, s[0] * s[1], s[2], x.data(), y.data());
        return y;
    }

    // dy: (N, C) -> dx: (N, H, W, C) = dy / (H*W) at every pixel
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, batch_);
        const Shape& s = this->input_shape();
        Tensor<T> dx(s.with_batch(batch_));
        kernels::global_average_pool_backward(batch_, s[0] * s[1], s[2], dy.data(), dx.data());
        return dx;
    }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()}, {"keepdims", keepdims_ ? "true" : "false"}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        const std::string& k = config_value(c, "keepdims", "GlobalAveragePooling2D");
        return std::make_shared<GlobalAveragePooling2D<T>>(GlobalAveragePooling2DOptions{
            .keepdims = k == "true" || k == "True" || k == "1", .name = config_value(c, "name", "GlobalAveragePooling2D")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        kernels::require_image_input(s, this->where());
        batch_ = -1;
        return keepdims_ ? Shape{1, 1, s[2]} : Shape{s[2]};
    }

private:
    bool keepdims_;
    index_t batch_ = -1;
};

}  // namespace lumen::layers
