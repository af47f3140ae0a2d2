// RandomZoom: Keras' layers.RandomZoom(height_factor, width_factor=None, fill_mode="reflect",
// interpolation="bilinear", seed=None, fill_value=0.0).
//
//   layers::RandomZoom(0.1)                // zoom in or out by up to 10 %, aspect ratio kept
//
// Training: zoom_h ~ U(1 + lo, 1 + hi) per image; zoom_w = zoom_h when width_factor is not given, else drawn
// from its own range. Positive factors zoom OUT, negative zoom IN (Keras' convention):
// x_in = zoom_w x + (W-1)/2 (1 - zoom_w), y_in = zoom_h y + (H-1)/2 (1 - zoom_h). Inference: identity.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "lumen/kernels/affine.hpp"
#include "lumen/layers/BaseImageAugmentationLayer.hpp"

namespace lumen::layers {

struct RandomZoomOptions {
    std::string fill_mode = "reflect";
    std::string interpolation = "bilinear";
    std::optional<std::uint64_t> seed{};
    double fill_value = 0;
    std::string name = {};
};

template <class T = float>
class RandomZoom : public GeometricAugmentationLayer<T> {
public:
    explicit RandomZoom(FactorRange height_factor, std::optional<FactorRange> width_factor = {}, RandomZoomOptions o = {})
        : GeometricAugmentationLayer<T>(o.seed), height_(height_factor), width_(width_factor), o_(std::move(o)) {
        this->init_warp(o_.name, o_.fill_mode, o_.interpolation, o_.fill_value);
        for (const FactorRange& f : {height_, width_.value_or(height_)})
            require(f.lo <= f.hi && f.lo >= -1, this->where(), ": factors must be f or (lo, hi) with -1 <= lo <= hi, got (", f.lo, ", ", f.hi, ")");
    }

    [[nodiscard]] std::string class_name() const override { return "RandomZoom"; }
    // forward, backward and the image-wise hooks: GeometricAugmentationLayer (one map per image, draw_map below)

    [[nodiscard]] Config get_config() const override {
        using B = BaseImageAugmentationLayer<T>;
        return {{"name", this->name()}, {"height_factor", B::num(height_.lo) + "," + B::num(height_.hi)},
                {"width_factor", width_ ? B::num(width_->lo) + "," + B::num(width_->hi) : std::string("None")},
                {"fill_mode", o_.fill_mode}, {"interpolation", o_.interpolation}, {"seed", this->seed_text()},
                {"fill_value", B::num(o_.fill_value)}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        using B = BaseImageAugmentationLayer<T>;
        const std::string cls = "RandomZoom";
        RandomZoomOptions o{.fill_mode = config_value(c, "fill_mode", cls), .interpolation = config_value(c, "interpolation", cls),
                    .seed = B::parse_seed(c, cls), .fill_value = B::parse_num(c, "fill_value", cls),
                    .name = config_value(c, "name", cls)};
        const auto h = B::parse_pair(c, "height_factor", cls);
        std::optional<FactorRange> w;
        if (config_value(c, "width_factor", cls) != "None") {
            const auto p = B::parse_pair(c, "width_factor", cls);
            w = FactorRange(p.first, p.second);
        }
        return std::make_shared<RandomZoom<T>>(FactorRange(h.first, h.second), w, o);
    }

private:
    kernels::Affine2D draw_map(double H, double W) override {
        const double zh = 1 + this->rng().uniform(height_.lo, height_.hi);
        const double zw = width_ ? 1 + this->rng().uniform(width_->lo, width_->hi) : zh;
        return kernels::Affine2D{{zw, 0, (W - 1) / 2 * (1 - zw), 0, zh, (H - 1) / 2 * (1 - zh)}};
    }
    FactorRange height_;
    std::optional<FactorRange> width_;

    RandomZoomOptions o_;
};

}  // namespace lumen::layers
