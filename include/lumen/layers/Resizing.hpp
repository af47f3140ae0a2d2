// Resizing: Keras' layers.Resizing(height, width, interpolation="bilinear", crop_to_aspect_ratio=False).
//
//   layers::Resizing(180, 180)
//
// Active in training and inference alike. Each image is resized with tf.image.resize's rules (half-pixel
// centres, no antialiasing; "nearest", "bilinear" or "area", kernels/resize.hpp), after taking the centred crop
// with the target aspect ratio when crop_to_aspect_ratio. x (N, H, W, C) -> y (N, height, width, C).
// Backward: the adjoint of the resize (and zero outside the crop).
#pragma once

#include <memory>
#include <sstream>
#include <string>

#include "lumen/kernels/resize.hpp"
#include "lumen/layers/BaseImageAugmentationLayer.hpp"

namespace lumen::layers {

struct ResizingOptions {
    std::string interpolation = "bilinear";
    bool crop_to_aspect_ratio = false;
    std::string name = {};
};

template <class T = float>
class Resizing : public BaseImageAugmentationLayer<T> {
public:
    Resizing(index_t height, index_t width, ResizingOptions o = {})
        : BaseImageAugmentationLayer<T>(std::nullopt), height_(height), width_(width), o_(std::move(o)) {
        this->set_name(o_.name);
        require(height_ > 0 && width_ > 0, this->where(), ": height and width must be > 0, got ", height_, ", ", width_);
        method_ = kernels::parse_interpolation(o_.interpolation, this->where());
    }
    [[nodiscard]] std::string class_name() const override { return "Resizing"; }

    Tensor<T> forward(const Tensor<T>& x, bool) override {
        this->check_input(x);
        this->batch_ = x.dim(0);
        const index_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
        Tensor<T> y(Shape{N, height_, width_, C});
        Tensor<T> crop(Shape{box_.height, box_.width, C});
        for (index_t n = 0; n < N; ++n) {
            for (index_t r = 0; r < box_.height; ++r)
                std::copy_n(x.data() + ((n * H + box_.top + r) * W + box_.left) * C, box_.width * C,
                            crop.data() + r * box_.width * C);
            kernels::resize_image(crop.data(), box_.height, box_.width, C, y.data() + n * height_ * width_ * C,
                                  height_, width_, method_, /*antialias=*/false);
        }
        return y;
    }
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(this->batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, this->batch_);
        const Shape& in = this->input_shape();
        const index_t N = dy.dim(0), H = in[0], W = in[1], C = in[2];
        Tensor<T> dx(Shape{N, H, W, C});
        Tensor<T> dcrop(Shape{box_.height, box_.width, C});
        for (index_t n = 0; n < N; ++n) {
            dcrop.set_zero();
            kernels::resize_image_adjoint(dy.data() + n * height_ * width_ * C, height_, width_, C, dcrop.data(),
                                          box_.height, box_.width, method_, false);
            for (index_t r = 0; r < box_.height; ++r)
                std::copy_n(dcrop.data() + r * box_.width * C, box_.width * C,
                            dx.data() + ((n * H + box_.top + r) * W + box_.left) * C);
        }
        return dx;
    }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()}, {"height", std::to_string(height_)}, {"width", std::to_string(width_)},
                {"interpolation", o_.interpolation}, {"crop_to_aspect_ratio", o_.crop_to_aspect_ratio ? "True" : "False"}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        const std::string cls = "Resizing";
        return std::make_shared<Resizing<T>>(
            std::stoll(config_value(c, "height", cls)), std::stoll(config_value(c, "width", cls)),
            ResizingOptions{.interpolation = config_value(c, "interpolation", cls),
                            .crop_to_aspect_ratio = config_value(c, "crop_to_aspect_ratio", cls) == "True",
                            .name = config_value(c, "name", cls)});
    }

protected:
    Shape build_impl(const Shape& s) override {
        this->check_image_shape(s);
        box_ = o_.crop_to_aspect_ratio ? kernels::aspect_crop(s[0], s[1], height_, width_)
                                       : kernels::CropBox{0, 0, s[0], s[1]};
        return Shape{height_, width_, s[2]};
    }

private:
    index_t height_, width_;
    ResizingOptions o_;
    kernels::Interpolation method_ = kernels::Interpolation::bilinear;
    kernels::CropBox box_{0, 0, 0, 0};
};

}  // namespace lumen::layers
