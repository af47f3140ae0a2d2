// RandomBrightness: Keras' layers.RandomBrightness(factor, value_range=(0, 255), seed=None).
//
//   layers::RandomBrightness(0.2)          // add up to +-20 % of the value range
//
// Training: per image delta ~ U(lo, hi) * (vmax - vmin), added to every pixel, then clipped to value_range.
// factor f means [-|f|, |f|]; a pair is sorted; values must lie in [-1, 1]. Inference: identity.
// Backward: dx = dy where the output was not clipped, 0 where it was.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "lumen/layers/BaseImageAugmentationLayer.hpp"

namespace lumen::layers {

struct RandomBrightnessOptions {
    std::array<double, 2> value_range{0, 255};
    std::optional<std::uint64_t> seed{};
    std::string name = {};
};

template <class T = float>
class RandomBrightness : public BaseImageAugmentationLayer<T> {
public:
    explicit RandomBrightness(FactorRange factor, RandomBrightnessOptions o = {})
        : BaseImageAugmentationLayer<T>(o.seed), lo_(std::min(factor.lo, factor.hi)), hi_(std::max(factor.lo, factor.hi)),
          range_(o.value_range) {
        this->set_name(o.name);
        require(lo_ >= -1 && hi_ <= 1, this->where(), ": factor must be within [-1, 1], got (", lo_, ", ", hi_, ")");
        require(range_[0] < range_[1], this->where(), ": value_range must be (min, max) with min < max");
    }
    [[nodiscard]] std::string class_name() const override { return "RandomBrightness"; }

    Tensor<T> forward(const Tensor<T>& x, bool training) override {
        this->check_input(x);
        this->batch_ = x.dim(0);
        active_ = training;
        if (!training) return x;
        const index_t per = x.size() / std::max<index_t>(1, x.dim(0));
        Tensor<T> y(x.shape());
        mask_ = Tensor<T>(x.shape());
        for (index_t n = 0; n < x.dim(0); ++n) {
            const double delta = this->rng().uniform(lo_, hi_) * (range_[1] - range_[0]);
            for (index_t i = n * per; i < (n + 1) * per; ++i) {
                const double v = double(x[i]) + delta;
                y[i] = static_cast<T>(std::clamp(v, range_[0], range_[1]));
                mask_[i] = (v >= range_[0] && v <= range_[1]) ? T(1) : T(0);
            }
        }
        return y;
    }
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(this->batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, this->batch_);
        if (!active_) return dy;
        Tensor<T> dx(dy.shape());
        dx.array() = dy.array() * mask_.array();
        return dx;
    }

    [[nodiscard]] Config get_config() const override {
        using B = BaseImageAugmentationLayer<T>;
        return {{"name", this->name()}, {"factor", B::num(lo_) + "," + B::num(hi_)},
                {"value_range", B::num(range_[0]) + "," + B::num(range_[1])}, {"seed", this->seed_text()}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        using B = BaseImageAugmentationLayer<T>;
        const std::string cls = "RandomBrightness";
        const auto f = B::parse_pair(c, "factor", cls);
        const auto r = B::parse_pair(c, "value_range", cls);
        return std::make_shared<RandomBrightness<T>>(
            FactorRange(f.first, f.second),
            RandomBrightnessOptions{.value_range = {r.first, r.second}, .seed = B::parse_seed(c, cls),
                                    .name = config_value(c, "name", cls)});
    }

protected:
    Shape build_impl(const Shape& s) override {
        this->apply_seed();
        return this->check_image_shape(s);
    }

private:
    double lo_, hi_;
    std::array<double, 2> range_;
    bool active_ = false;
    Tensor<T> mask_;
};

}  // namespace lumen::layers
