// RandomTranslation: Keras' layers.RandomTranslation(height_factor, width_factor, fill_mode="reflect",
// interpolation="bilinear", seed=None, fill_value=0.0).
//
//   layers::RandomTranslation(0.1, 0.1)    // shift by up to 10 % of the height and of the width
//
// Training: dy ~ U(lo, hi) * H (positive = down) and dx ~ U(lo, hi) * W (positive = right) per image;
// x_in = x - dx, y_in = y - dy. Factors must lie in [-1, 1]. Inference: identity.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "lumen/kernels/affine.hpp"
#include "lumen/layers/BaseImageAugmentationLayer.hpp"

namespace lumen::layers {

struct RandomTranslationOptions {
    std::string fill_mode = "reflect";
    std::string interpolation = "bilinear";
    std::optional<std::uint64_t> seed{};
    double fill_value = 0;
    std::string name = {};
};

template <class T = float>
class RandomTranslation : public GeometricAugmentationLayer<T> {
public:
    RandomTranslation(FactorRange height_factor, FactorRange width_factor, RandomTranslationOptions o = {})
        : GeometricAugmentationLayer<T>(o.seed), height_(height_factor), width_(width_factor), o_(std::move(o)) {
        this->init_warp(o_.name, o_.fill_mode, o_.interpolation, o_.fill_value);
        for (const FactorRange& f : {height_, width_})
            require(f.lo <= f.hi && f.lo >= -1 && f.hi <= 1, this->where(), ": factors must be f or (lo, hi) with -1 <= lo <= hi <= 1, got (", f.lo, ", ", f.hi, ")");
    }

    [[nodiscard]] std::string class_name() const override { return "RandomTranslation"; }
    // forward, backward and the image-wise hooks: GeometricAugmentationLayer (one map per image, draw_map below)

    [[nodiscard]] Config get_config() const override {
        using B = BaseImageAugmentationLayer<T>;
        return {{"name", this->name()}, {"height_factor", B::num(height_.lo) + "," + B::num(height_.hi)},
                {"width_factor", B::num(width_.lo) + "," + B::num(width_.hi)}, {"fill_mode", o_.fill_mode},
                {"interpolation", o_.interpolation}, {"seed", this->seed_text()}, {"fill_value", B::num(o_.fill_value)}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        using B = BaseImageAugmentationLayer<T>;
        const std::string cls = "RandomTranslation";
        RandomTranslationOptions o{.fill_mode = config_value(c, "fill_mode", cls), .interpolation = config_value(c, "interpolation", cls),
                    .seed = B::parse_seed(c, cls), .fill_value = B::parse_num(c, "fill_value", cls),
                    .name = config_value(c, "name", cls)};
        const auto h = B::parse_pair(c, "height_factor", cls);
        const auto w = B::parse_pair(c, "width_factor", cls);
        return std::make_shared<RandomTranslation<T>>(FactorRange(h.first, h.second), FactorRange(w.first, w.second), o);
    }

private:
    kernels::Affine2D draw_map(double H, double W) override {
        const double dy = this->rng().uniform(height_.lo, height_.hi) * H;
        const double dx = this->rng().uniform(width_.lo, width_.hi) * W;
        return kernels::Affine2D::translation(-dx, -dy);
    }
    FactorRange height_, width_;

    RandomTranslationOptions o_;
};

}  // namespace lumen::layers
