// RandomRotation: Keras' layers.RandomRotation(factor, fill_mode="reflect", interpolation="bilinear", seed=None,
// fill_value=0.0).
//
//   layers::RandomRotation(0.1)            // angles in [-0.1, 0.1] of a full turn, i.e. up to 36 degrees
//
// Training: each image turns by an angle ~ U(lo * 2 pi, hi * 2 pi) radians about its centre ((W-1)/2, (H-1)/2),
// positive = counter-clockwise: x_in = cos a (x - cx) - sin a (y - cy) + cx, y_in = sin a (x - cx) + cos a (y - cy) + cy,
// sampled like TF (kernels/affine.hpp, Boundary::tf). Inference: identity.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "lumen/kernels/affine.hpp"
#include "lumen/layers/BaseImageAugmentationLayer.hpp"

namespace lumen::layers {

struct RandomRotationOptions {
    std::string fill_mode = "reflect";
    std::string interpolation = "bilinear";
    std::optional<std::uint64_t> seed{};
    double fill_value = 0;
    std::string name = {};
};

template <class T = float>
class RandomRotation : public GeometricAugmentationLayer<T> {
public:
    explicit RandomRotation(FactorRange factor, RandomRotationOptions o = {})
        : GeometricAugmentationLayer<T>(o.seed), factor_(factor), o_(std::move(o)) {
        this->init_warp(o_.name, o_.fill_mode, o_.interpolation, o_.fill_value);
        require(factor_.lo <= factor_.hi, this->where(), ": factor must be f or (lo, hi) with lo <= hi, got (", factor_.lo, ", ", factor_.hi, ")");
    }
    [[nodiscard]] FactorRange factor() const { return factor_; }

    [[nodiscard]] std::string class_name() const override { return "RandomRotation"; }
    // forward, backward and the image-wise hooks: GeometricAugmentationLayer (one map per image, draw_map below)

    [[nodiscard]] Config get_config() const override {
        using B = BaseImageAugmentationLayer<T>;
        return {{"name", this->name()}, {"factor", B::num(factor_.lo) + "," + B::num(factor_.hi)}, {"fill_mode", o_.fill_mode},
                {"interpolation", o_.interpolation}, {"seed", this->seed_text()}, {"fill_value", B::num(o_.fill_value)}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        using B = BaseImageAugmentationLayer<T>;
        const std::string cls = "RandomRotation";
        RandomRotationOptions o{.fill_mode = config_value(c, "fill_mode", cls), .interpolation = config_value(c, "interpolation", cls),
                    .seed = B::parse_seed(c, cls), .fill_value = B::parse_num(c, "fill_value", cls),
                    .name = config_value(c, "name", cls)};
        const auto f = B::parse_pair(c, "factor", cls);
        return std::make_shared<RandomRotation<T>>(FactorRange(f.first, f.second), o);
    }

private:
    kernels::Affine2D draw_map(double H, double W) override {
        const double a = this->rng().uniform(factor_.lo, factor_.hi) * 2 * 3.14159265358979323846;
        const double cx = (W - 1) / 2, cy = (H - 1) / 2;
        using kernels::Affine2D;
        return Affine2D::translation(cx, cy) * Affine2D{{std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0}} *
               Affine2D::translation(-cx, -cy);
    }
    FactorRange factor_;

    RandomRotationOptions o_;
};

}  // namespace lumen::layers
