// ZeroPadding2D: rows and columns of zeros around each image, Keras' layers.ZeroPadding2D.
//
//   layers::ZeroPadding2D(1)                 // 1 on every side
//   layers::ZeroPadding2D({2, 1})            // (symmetric_height_pad, symmetric_width_pad)
//   layers::ZeroPadding2D({{1, 2}, {0, 3}})  // ((top, bottom), (left, right))
// (N, H, W, C) -> (N, top + H + bottom, left + W + right, C); backward crops dy back to (N, H, W, C).
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <sstream>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

// Keras' three spellings of ZeroPadding2D's `padding`.
struct ZeroPadding2DSize {
    index_t top = 1, bottom = 1, left = 1, right = 1;
    ZeroPadding2DSize(index_t all = 1) : top(all), bottom(all), left(all), right(all) {}  // NOLINT: implicit
    ZeroPadding2DSize(index_t height, index_t width) : top(height), bottom(height), left(width), right(width) {}
    ZeroPadding2DSize(std::array<index_t, 2> top_bottom, std::array<index_t, 2> left_right)
        : top(top_bottom[0]), bottom(top_bottom[1]), left(left_right[0]), right(left_right[1]) {}
};

struct ZeroPadding2DOptions {
    std::string name = {};
};

template <class T = float>
class ZeroPadding2D : public Layer<T> {
public:
    ZeroPadding2D(ZeroPadding2DSize padding = 1, ZeroPadding2DOptions options = {}) : pad_(padding) {
        this->set_name(options.name);
        require(pad_.top >= 0 && pad_.bottom >= 0 && pad_.left >= 0 && pad_.right >= 0, this->where(),
                ": padding must be >= 0, got ((", pad_.top, ", ", pad_.bottom, "), (", pad_.left, ", ", pad_.right,
                "))");
    }

    [[nodiscard]] std::string class_name() const override { return "ZeroPadding2D"; }

    // x: (N, H, W, C) -> y: (N, top + H + bottom, left + W + right, C)
    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        batch_ = x.dim(0);
        Tensor<T> y(this->output_shape().with_batch(batch_));
        copy_rows(x.data(), y.data(), true);
        return y;
    }

    // dy: (N, OH, OW, C) -> dx: (N, H, W, C), the interior of dy
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, batch_);
        Tensor<T> dx(this->input_shape().with_batch(batch_));
        copy_rows(dy.data(), dx.data(), false);
        return dx;
    }

    [[nodiscard]] const ZeroPadding2DSize& padding() const { return pad_; }

    [[nodiscard]] Config get_config() const override {
        std::ostringstream s;
        s << pad_.top << "," << pad_.bottom << "," << pad_.left << "," << pad_.right;
        return {{"name", this->name()}, {"padding", s.str()}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        std::string text = config_value(c, "padding", "ZeroPadding2D");
        std::replace(text.begin(), text.end(), ',', ' ');
        std::istringstream in(text);
        index_t t = 0, b = 0, l = 0, r = 0;
        require(static_cast<bool>(in >> t >> b >> l >> r), "ZeroPadding2D: cannot read padding \"", text, "\"");
        return std::make_shared<ZeroPadding2D<T>>(ZeroPadding2DSize({t, b}, {l, r}),
                                                  ZeroPadding2DOptions{.name = config_value(c, "name", "ZeroPadding2D")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        kernels::require_image_input(s, this->where());
        batch_ = -1;
        return Shape{pad_.top + s[0] + pad_.bottom, pad_.left + s[1] + pad_.right, s[2]};
    }

private:
    // Copies each input row of W*C values between an unpadded tensor and its place inside the padded one:
    // unpadded `from` -> padded `to` when `into_padded`, else padded `from` -> unpadded `to`. The padding
    // cells of a padded output stay zero from construction.
    void copy_rows(const T* from, T* to, bool into_padded) const {
        const Shape& s = this->input_shape();
        const index_t H = s[0], run = s[1] * s[2], OH = H + pad_.top + pad_.bottom;
        const index_t orow = (s[1] + pad_.left + pad_.right) * s[2], offset = pad_.left * s[2];
        const int threads = batch_ * H * run >= (index_t{1} << 15) ? num_threads() : 1;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (index_t nh = 0; nh < batch_ * H; ++nh) {
            const index_t n = nh / H, h = nh % H;
            const index_t flat = nh * run, padded = (n * OH + h + pad_.top) * orow + offset;
            if (into_padded)
                std::copy(from + flat, from + flat + run, to + padded);
            else
                std::copy(from + padded, from + padded + run, to + flat);
        }
    }

    ZeroPadding2DSize pad_;
    index_t batch_ = -1;
};

}  // namespace lumen::layers
