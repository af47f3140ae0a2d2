// RandomFlip: Keras' layers.RandomFlip(mode="horizontal_and_vertical", seed=None).
//
//   layers::RandomFlip("horizontal")
//
// Training: each image is flipped left-right (mode "horizontal"), up-down ("vertical") or each of both
// independently ("horizontal_and_vertical"), every enabled flip with probability 0.5. Inference: identity.
// x (N, H, W, C) -> y (N, H, W, C); backward flips dy the same way (a flip is its own adjoint).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/threads.hpp"
#include "lumen/kernels/affine.hpp"
#include "lumen/layers/BaseImageAugmentationLayer.hpp"

namespace lumen::layers {

struct RandomFlipOptions {
    std::optional<std::uint64_t> seed{};
    std::string name = {};
};

template <class T = float>
class RandomFlip : public BaseImageAugmentationLayer<T> {
public:
    explicit RandomFlip(std::string mode = "horizontal_and_vertical", RandomFlipOptions o = {})
        : BaseImageAugmentationLayer<T>(o.seed), mode_(std::move(mode)) {
        this->set_name(o.name);
        require(mode_ == "horizontal" || mode_ == "vertical" || mode_ == "horizontal_and_vertical", this->where(),
                ": mode must be \"horizontal\", \"vertical\" or \"horizontal_and_vertical\", got \"", mode_, "\"");
    }
    [[nodiscard]] std::string class_name() const override { return "RandomFlip"; }
    // Per image of the last training forward: {flipped left-right, flipped up-down}.
    [[nodiscard]] const std::vector<std::array<bool, 2>>& flips() const { return flips_; }

    Tensor<T> forward(const Tensor<T>& x, bool training) override {
        return begin_images(x, training) ? flip_all(x) : x;
    }
    // The same, image by image (see Layer::image_wise): Sequential runs it with the layers next to it.
    [[nodiscard]] bool image_wise() const override { return true; }
    bool begin_images(const Tensor<T>& x, bool training) override {
        this->check_input(x);
        this->batch_ = x.dim(0);
        flips_.clear();
        if (!training) return false;
        const bool h = mode_ != "vertical", v = mode_ != "horizontal";
        for (index_t n = 0; n < x.dim(0); ++n)  // draws first, in order: the same seed gives the same flips
            flips_.push_back({h && this->rng().uniform() < 0.5, v && this->rng().uniform() < 0.5});
        return true;
    }
    bool forward_image(index_t n, const T* in, T* out) const override {
        const auto [horizontal, vertical] = flips_[std::size_t(n)];
        if (!horizontal && !vertical) return false;  // passes through: no copy
        const Shape& s = this->input_shape();  // (H, W, C)
        kernels::flip_copy(in, s[0], s[1], s[2], out, horizontal, vertical);
        return true;
    }
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(this->batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, this->batch_);
        if (flips_.empty()) return dy;
        return flip_all(dy);
    }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()}, {"mode", mode_}, {"seed", this->seed_text()}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        return std::make_shared<RandomFlip<T>>(config_value(c, "mode", "RandomFlip"),
                                               RandomFlipOptions{.seed = BaseImageAugmentationLayer<T>::parse_seed(c, "RandomFlip"),
                                                                 .name = config_value(c, "name", "RandomFlip")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        this->apply_seed();
        return this->check_image_shape(s);
    }

private:
    // Each image of t (N, H, W, C) flipped as flips_ says, copied in one pass (one image per iteration).
    Tensor<T> flip_all(const Tensor<T>& t) const {
        Tensor<T> out(t.shape(), uninitialized);  // flip_copy writes every value
        const index_t H = t.dim(1), W = t.dim(2), C = t.dim(3), per = H * W * C;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
        for (index_t n = 0; n < t.dim(0); ++n)
            kernels::flip_copy(t.data() + n * per, H, W, C, out.data() + n * per, flips_[std::size_t(n)][0],
                               flips_[std::size_t(n)][1]);
        return out;
    }

    std::string mode_;
    std::vector<std::array<bool, 2>> flips_;
};

}  // namespace lumen::layers
