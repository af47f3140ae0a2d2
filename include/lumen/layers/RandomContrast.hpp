// RandomContrast: Keras' layers.RandomContrast(factor, seed=None) (tf.keras 2.x rules).
//
//   layers::RandomContrast(0.2)            // contrast factor in [0.8, 1.2]
//
// Training: one factor c ~ U(1 - lower, 1 + upper) for the whole batch (Keras 2; Keras 3 draws one per image),
// then per image and channel y = clip((x - mean_HW) * c + mean_HW, 0, 255). Inference: identity.
// Backward (per image and channel, m = not clipped): dx_i = c m_i dy_i + (1 - c)/HW * sum_j m_j dy_j.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "lumen/layers/BaseImageAugmentationLayer.hpp"

namespace lumen::layers {

struct RandomContrastOptions {
    std::optional<std::uint64_t> seed{};
    std::string name = {};
};

template <class T = float>
class RandomContrast : public BaseImageAugmentationLayer<T> {
public:
    // factor f means (lower, upper) = (f, f); both must lie in [0, 1].
    explicit RandomContrast(FactorRange factor, RandomContrastOptions o = {})
        : BaseImageAugmentationLayer<T>(o.seed), lower_(factor.lo < 0 ? -factor.lo : factor.lo), upper_(factor.hi) {
        this->set_name(o.name);
        require(lower_ >= 0 && lower_ <= 1 && upper_ >= 0 && upper_ <= 1, this->where(),
                ": factor must be in [0, 1] (or a pair of such), got (", lower_, ", ", upper_, ")");
    }
    [[nodiscard]] std::string class_name() const override { return "RandomContrast"; }
    [[nodiscard]] double last_factor() const { return c_; }

    Tensor<T> forward(const Tensor<T>& x, bool training) override {
        this->check_input(x);
        this->batch_ = x.dim(0);
        active_ = training;
        if (!training) return x;
        c_ = this->rng().uniform(1 - lower_, 1 + upper_);
        const index_t N = x.dim(0), HW = x.dim(1) * x.dim(2), C = x.dim(3);
        Tensor<T> y(x.shape());
        mask_ = Tensor<T>(x.shape());
        for (index_t n = 0; n < N; ++n)
            for (index_t ch = 0; ch < C; ++ch) {
                const T* in = x.data() + n * HW * C + ch;
                double mean = 0;
                for (index_t i = 0; i < HW; ++i) mean += double(in[i * C]);
                mean /= double(HW);
                for (index_t i = 0; i < HW; ++i) {
                    const double v = (double(in[i * C]) - mean) * c_ + mean;
                    const index_t k = n * HW * C + i * C + ch;
                    y[k] = static_cast<T>(std::clamp(v, 0.0, 255.0));
                    mask_[k] = (v >= 0 && v <= 255) ? T(1) : T(0);
                }
            }
        return y;
    }
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(this->batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, this->batch_);
        if (!active_) return dy;
        const index_t N = dy.dim(0), HW = dy.dim(1) * dy.dim(2), C = dy.dim(3);
        Tensor<T> dx(dy.shape());
        for (index_t n = 0; n < N; ++n)
            for (index_t ch = 0; ch < C; ++ch) {
                double sum = 0;
                for (index_t i = 0; i < HW; ++i) {
                    const index_t k = n * HW * C + i * C + ch;
                    sum += double(mask_[k]) * double(dy[k]);
                }
                for (index_t i = 0; i < HW; ++i) {
                    const index_t k = n * HW * C + i * C + ch;
                    dx[k] = static_cast<T>(c_ * double(mask_[k]) * double(dy[k]) + (1 - c_) / double(HW) * sum);
                }
            }
        return dx;
    }

    [[nodiscard]] Config get_config() const override {
        using B = BaseImageAugmentationLayer<T>;
        return {{"name", this->name()}, {"factor", B::num(lower_) + "," + B::num(upper_)}, {"seed", this->seed_text()}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        using B = BaseImageAugmentationLayer<T>;
        const auto f = B::parse_pair(c, "factor", "RandomContrast");
        return std::make_shared<RandomContrast<T>>(FactorRange(-f.first, f.second),
                                                   RandomContrastOptions{.seed = B::parse_seed(c, "RandomContrast"),
                                                                         .name = config_value(c, "name", "RandomContrast")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        this->apply_seed();
        return this->check_image_shape(s);
    }

private:
    double lower_, upper_;
    double c_ = 1;
    bool active_ = false;
    Tensor<T> mask_;
};

}  // namespace lumen::layers
