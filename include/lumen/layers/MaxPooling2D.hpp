// MaxPooling2D: the largest value of each window, per channel, Keras' layers.MaxPooling2D.
//
//   layers::MaxPooling2D()                                   // pool 2x2, strides = pool_size, 'valid'
//   layers::MaxPooling2D(3, {.strides = 2, .padding = "same"})
//
// Padding cells never win. Backward sends each output's gradient to its window's winner; on ties the first
// maximum in row-major window order wins (TF's CPU kernel). Kernels: kernels/pooling.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/kernels/pooling.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

using kernels::Size2;

struct MaxPooling2DOptions {
    std::optional<Size2> strides = std::nullopt;  // Keras' None: strides = pool_size
    std::string padding = "valid";
    std::string name = {};
};

template <class T = float>
class MaxPooling2D : public Layer<T> {
public:
    MaxPooling2D(Size2 pool_size = 2, MaxPooling2DOptions options = {})
        : pool_size_(pool_size), strides_(options.strides.value_or(pool_size)) {
        this->set_name(options.name);
        const std::string at = this->where();
        require(pool_size_.h >= 1 && pool_size_.w >= 1, at, ": pool_size must be >= 1, got (", pool_size_.h, ", ",
                pool_size_.w, ")");
        require(strides_.h >= 1 && strides_.w >= 1, at, ": strides must be >= 1, got (", strides_.h, ", ",
                strides_.w, ")");
        padding_ = kernels::padding_from_name(options.padding, at);
    }

    [[nodiscard]] std::string class_name() const override { return "MaxPooling2D"; }

    // Whether this is the default pooling of non-overlapping 2x2 windows inside the image (pool 2x2, strides 2, no
    // padding used), the one a Conv2D before it can compute in its own output pass (Conv2D::fuses_with).
    [[nodiscard]] bool pools_2x2_windows() const {
        return this->built() && this->input_shape().rank() == 3 &&
               kernels::max_pool2x2_applies(geometry(1, this->input_shape()));
    }

    // x: (N, H, W, C) -> y: (N, OH, OW, C); remembers each output's winning input index
    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        geometry_ = geometry(x.dim(0), this->input_shape());
        Tensor<T> y(Shape{geometry_.n, geometry_.oh, geometry_.ow, geometry_.c}, uninitialized);
        if (kernels::max_pool2x2_applies(geometry_)) {  // the default 2x2 pooling: one byte per winner
            argmax_.clear();
            winner_.resize(static_cast<std::size_t>(y.size()));
            kernels::max_pool2x2_forward(geometry_, x.data(), y.data(), winner_.data());
        } else {
            winner_.clear();
            argmax_.resize(static_cast<std::size_t>(y.size()));
            kernels::max_pool2d_forward(geometry_, x.data(), y.data(), argmax_.data());
        }
        return y;
    }

    // dy: (N, OH, OW, C) -> dx: (N, H, W, C), zero except at the winners
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(!argmax_.empty() || !winner_.empty(), this->where(), ": backward() called before forward()");
        this->check_grad(dy, geometry_.n);
        Tensor<T> dx(this->input_shape().with_batch(geometry_.n), uninitialized);  // every cell written by the kernel
        if (!winner_.empty())
            kernels::max_pool2x2_backward(geometry_, dy.data(), winner_.data(), dx.data());
        else
            kernels::max_pool2d_backward_set(geometry_, dy.data(), argmax_.data(), dx.data());
        return dx;
    }

    [[nodiscard]] Size2 pool_size() const { return pool_size_; }
    [[nodiscard]] Size2 strides() const { return strides_; }
    [[nodiscard]] kernels::Padding padding() const { return padding_; }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()},
                {"pool_size", kernels::size2_to_string(pool_size_)},
                {"strides", kernels::size2_to_string(strides_)},
                {"padding", kernels::padding_name(padding_)}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        const std::string cls = "MaxPooling2D";
        return std::make_shared<MaxPooling2D<T>>(
            kernels::size2_from_string(config_value(c, "pool_size", cls), cls),
            MaxPooling2DOptions{.strides = kernels::size2_from_string(config_value(c, "strides", cls), cls),
                                .padding = config_value(c, "padding", cls),
                                .name = config_value(c, "name", cls)});
    }

protected:
    Shape build_impl(const Shape& s) override {
        kernels::require_image_input(s, this->where());
        const kernels::ConvGeometry g = geometry(1, s);
        argmax_.clear();
        winner_.clear();
        return Shape{g.oh, g.ow, s[2]};
    }

private:
    kernels::ConvGeometry geometry(index_t batch, const Shape& s) const {
        return kernels::conv_geometry(batch, s[0], s[1], s[2], pool_size_, strides_, 1, padding_, this->where());
    }

    Size2 pool_size_;
    Size2 strides_;
    kernels::Padding padding_ = kernels::Padding::valid;
    kernels::ConvGeometry geometry_;
    std::vector<index_t> argmax_;  // (N, OH, OW, C): index into the last forward's input
    std::vector<std::uint8_t> winner_;  // the same for 2x2 pooling: which cell of its window won (0..3)
};

}  // namespace lumen::layers
