// BaseImageAugmentationLayer — what the random preprocessing layers share (Keras' class of the same name).
//
// Inputs are image batches (N, H, W, C). At inference (training = false) a random layer is the identity, as in
// Keras (predict, evaluate, validation). In training each image draws its own parameters from the layer's
// random stream (seeded by build() from the model seed, or by the layer's own `seed` option), so the same seed
// gives the same augmentations. The layers have no weights; backward passes gradients through the transform
// that the last forward applied (its exact adjoint), so an augmentation layer may sit anywhere in a model.
// Config helpers here print numbers round-trip exact and read them back.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/affine.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

// A Keras factor: f means [-f, f]; {lo, hi} is used as given.
struct FactorRange {
    double lo = 0, hi = 0;
    FactorRange() = default;
    FactorRange(double f) : lo(-f), hi(f) {}  // NOLINT: implicit, as Keras takes a bare number
    FactorRange(double l, double h) : lo(l), hi(h) {}
};

template <class T = float>
class BaseImageAugmentationLayer : public Layer<T> {
protected:
    explicit BaseImageAugmentationLayer(std::optional<std::uint64_t> seed) : seed_(seed) {}

    // Per-sample input must be (H, W, C).
    Shape check_image_shape(const Shape& s) const {
        require(s.rank() == 3 && s[0] > 0 && s[1] > 0 && s[2] > 0, this->where(),
                ": expects images (batch, height, width, channels), got input ", s.to_keras_string(),
                "; put it first in the model on image inputs");
        return s;
    }
    // Called by build_impl: a layer-level seed overrides the model-derived one.
    void apply_seed() {
        if (seed_) this->rng().seed(*seed_);
    }
    [[nodiscard]] std::string seed_text() const { return seed_ ? std::to_string(*seed_) : "None"; }

    static std::string num(double v) {
        std::ostringstream out;
        out.precision(17);
        out << v;
        return out.str();
    }
    static double parse_num(const Config& c, const std::string& key, const std::string& cls) {
        const std::string& text = config_value(c, key, cls);
        std::istringstream in(text);
        double v = 0;
        require(static_cast<bool>(in >> v), cls, ": cannot read ", key, " \"", text, "\"");
        return v;
    }
    static std::pair<double, double> parse_pair(const Config& c, const std::string& key, const std::string& cls) {
        const std::string& text = config_value(c, key, cls);
        std::istringstream in(text);
        double a = 0, b = 0;
        char comma = 0;
        require(static_cast<bool>(in >> a >> comma >> b) && comma == ',', cls, ": cannot read ", key, " \"", text,
                "\" (expected \"lo,hi\")");
        return {a, b};
    }
    static std::optional<std::uint64_t> parse_seed(const Config& c, const std::string& cls) {
        const std::string& text = config_value(c, "seed", cls);
        if (text == "None") return std::nullopt;
        return std::stoull(text);
    }

    static bool parse_interpolation(const std::string& name, const std::string& who) {
        require(name == "bilinear" || name == "nearest", who, ": interpolation must be \"bilinear\" or \"nearest\", got \"",
                name, "\"");
        return name == "nearest";
    }

    std::optional<std::uint64_t> seed_;
    index_t batch_ = -1;
};

// The geometric layers (RandomRotation, RandomZoom, RandomTranslation): each draws one output->input map per image
// (draw_map) and warps the image through it, sampling like TF's ImageProjectiveTransformV3; the rest is here.
template <class T = float>
class GeometricAugmentationLayer : public BaseImageAugmentationLayer<T> {
public:
    // The output->input maps of the last training forward, one per image (empty after inference).
    [[nodiscard]] const std::vector<kernels::Affine2D>& maps() const { return maps_; }

    // x (N, H, W, C) -> y (N, H, W, C): begin_images (the batch's maps), then every image warped through its map
    Tensor<T> forward(const Tensor<T>& x, bool training) override {
        return begin_images(x, training) ? warp_batch(x) : x;
    }
    // The same, image by image (see Layer::image_wise): Sequential runs it with the layers next to it.
    [[nodiscard]] bool image_wise() const override { return true; }
    // Draws one map per image in training (in image order: the same seed gives the same warps) and keeps them,
    // so backward can apply the exact adjoint; at inference there are none and the layer is the identity.
    bool begin_images(const Tensor<T>& x, bool training) override {
        this->check_input(x);
        this->batch_ = x.dim(0);
        maps_.clear();
        const double H = double(x.dim(1)), W = double(x.dim(2));
        if (training)
            for (index_t n = 0; n < x.dim(0); ++n) maps_.push_back(draw_map(H, W));
        return !maps_.empty();
    }
    // out (H, W, C) = image n warped through its map
    bool forward_image(index_t n, const T* in, T* out) const override {
        const Shape& s = this->input_shape();  // (H, W, C)
        kernels::affine_warp(in, s[0], s[1], s[2], out, maps_[std::size_t(n)], mode_, fill_, kernels::Boundary::tf,
                             nearest_);
        return true;
    }
    // dy (N, H, W, C) -> dx: the adjoint of each image's warp (identity after inference)
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(this->batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, this->batch_);
        if (maps_.empty()) return dy;
        Tensor<T> dx(dy.shape());
        const index_t H = dy.dim(1), W = dy.dim(2), C = dy.dim(3), per = H * W * C;
#pragma omp parallel for num_threads(num_threads()) schedule(static)
        for (index_t n = 0; n < dy.dim(0); ++n)
            kernels::affine_warp_adjoint(dy.data() + n * per, H, W, C, dx.data() + n * per, maps_[std::size_t(n)], mode_,
                                         kernels::Boundary::tf, nearest_);
        return dx;
    }

protected:
    using BaseImageAugmentationLayer<T>::BaseImageAugmentationLayer;
    // The name and Keras' fill_mode, interpolation and fill_value options, checked here. Called from the derived
    // constructor's body: errors name the layer by its class_name(), which a base constructor cannot call.
    void init_warp(const std::string& name, const std::string& fill_mode, const std::string& interpolation,
                   double fill_value) {
        this->set_name(name);
        mode_ = kernels::parse_fill_mode(fill_mode, this->where());
        nearest_ = this->parse_interpolation(interpolation, this->where());
        fill_ = static_cast<T>(fill_value);
    }
    // One image's map, output (x, y) -> input point, for an H x W image, drawn from the layer's random stream.
    virtual kernels::Affine2D draw_map(double H, double W) = 0;
    Shape build_impl(const Shape& s) override {
        this->apply_seed();
        return this->check_image_shape(s);
    }

private:
    // After begin_images: every image of x warped through its map. Output pixels are independent and the maps
    // were drawn before, so any split gives the same result: one image per iteration, or, with fewer images than
    // threads, bands of rows of each image.
    Tensor<T> warp_batch(const Tensor<T>& x) const {
        Tensor<T> y(x.shape(), uninitialized);  // affine_warp writes every output pixel (fill pixels too)
        const index_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3), per = H * W * C;
        const int threads = num_threads();
        const index_t bands = N >= threads ? 1 : std::min<index_t>((threads + N - 1) / N, (H + 31) / 32);
        const index_t rows = (H + bands - 1) / bands;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (index_t task = 0; task < N * bands; ++task) {
            const index_t n = task / bands, y0 = task % bands * rows;  // one band: rows [0, H), forward_image's warp
            kernels::affine_warp_rows(x.data() + n * per, H, W, C, y.data() + n * per, maps_[std::size_t(n)], mode_,
                                      fill_, kernels::Boundary::tf, nearest_, y0, std::min(H, y0 + rows));
        }
        return y;
    }

    std::vector<kernels::Affine2D> maps_;
    kernels::FillMode mode_ = kernels::FillMode::reflect;
    bool nearest_ = false;
    T fill_ = 0;
};

}  // namespace lumen::layers
