// lumen::layers::Layer<T> — what every layer is.
//
// A layer is a small class with four duties, each a member function:
//   build(input_shape, seed)  per-sample input shape (no batch axis) -> per-sample output shape; creates and
//                             initialises the weights; rejects an incompatible input with an Error that names
//                             the layer and suggests the fix.
//   forward(x, training)      x is (N, ...) -> y is (N, ...); caches what backward needs.
//   backward(dy)              dy = dL/dy for the last forward -> returns dL/dx; ADDS dL/dw into each weight's
//                             grad (so gradients of several batches can be accumulated); gradients are already
//                             batch means because the loss divides by the batch size.
//   weights()                 views of the weights, Keras' order: trainable ones first, then non-trainable.
// plus get_config() for summary() and saving. Forward and backward of a layer live side by side in one file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/random.hpp"
#include "lumen/core/shape.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"

namespace lumen {

// Keras' kernel_regularizer: adds l1*sum(|w|) + l2*sum(w^2) to the loss (and its gradient to w's).
struct Regularizer {
    double l1 = 0;
    double l2 = 0;
    [[nodiscard]] bool active() const { return l1 != 0 || l2 != 0; }
    // Called by layers' constructors, so the error names the layer and the argument.
    void validate(const std::string& where, const std::string& argument) const {
        require(l1 >= 0 && l2 >= 0, where, ": ", argument, " factors must be >= 0, got l1=", l1, " l2=", l2);
    }
};
namespace regularizers {
inline Regularizer l2(double l2 = 0.01) { return {0, l2}; }  // Keras' default factor 0.01
inline Regularizer l1(double l1 = 0.01) { return {l1, 0}; }
inline Regularizer l1_l2(double l1 = 0.01, double l2 = 0.01) { return {l1, l2}; }
}  // namespace regularizers

// One weight of a layer, named as in Keras ("kernel", "bias", "gamma", "moving_mean", ...).
template <class T>
struct Weight {
    std::string name;
    Tensor<T> value;
    Tensor<T> grad;          // same shape as value; empty for weights that never get gradients (moving stats)
    bool trainable = true;   // false for non-trainable-by-nature weights such as BatchNormalization's moving_mean
    Regularizer regularizer; // applied by the model: loss += penalty(value), grad += d penalty / d value
};

// A layer's configuration as ordered (key, value) text pairs, e.g. {"filters", "16"}, {"padding", "same"}.
// Values use Python-like text: "3,3" for pairs, "relu" for names, "0.2" for numbers (printed round-trip exact).
using Config = std::vector<std::pair<std::string, std::string>>;

// Looks up a key in a Config; throws an Error naming the layer class if it is missing.
inline const std::string& config_value(const Config& config, const std::string& key, const std::string& cls) {
    for (const auto& [k, v] : config)
        if (k == key) return v;
    fail(cls, ": configuration has no \"", key, "\"");
}

namespace layers {

template <class T = float>
class Layer {
public:
    using Scalar = T;
    virtual ~Layer() = default;

    // Keras' class name, e.g. "Conv2D", "MaxPooling2D".
    [[nodiscard]] virtual std::string class_name() const = 0;

    // Keras' layer name, e.g. "conv2d_1"; Sequential assigns automatic names when none was given.
    [[nodiscard]] const std::string& name() const { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }

    // Builds the layer for a per-sample input shape and returns the per-sample output shape. `seed` seeds the
    // layer's random stream (initialisers, dropout masks); Sequential derives it from the model seed.
    Shape build(const Shape& input_shape, std::uint64_t seed = 0) {
        rng_.seed(seed);
        input_shape_ = input_shape;
        output_shape_ = build_impl(input_shape);
        built_ = true;
        return output_shape_;
    }
    [[nodiscard]] bool built() const { return built_; }
    [[nodiscard]] const Shape& input_shape() const { return input_shape_; }
    [[nodiscard]] const Shape& output_shape() const { return output_shape_; }

    // x: (N, *input_shape) -> (N, *output_shape). `training` turns on dropout, batch statistics, augmentation.
    virtual Tensor<T> forward(const Tensor<T>& x, bool training) = 0;
    // dy: (N, *output_shape) -> dx: (N, *input_shape); adds parameter gradients into weights()[i]->grad.
    virtual Tensor<T> backward(const Tensor<T>& dy) = 0;

    // Fusion with the next layer, which Sequential uses where a layer offers it: next.forward(this->forward(x))
    // in one pass (and backward likewise), with the same numbers but without the intermediate tensor going
    // through memory. Conv2D offers it for a following 2x2 MaxPooling2D. The defaults fuse with nothing.
    [[nodiscard]] virtual bool fuses_with(const Layer<T>& /*next*/) const { return false; }
    virtual Tensor<T> forward_fused(const Tensor<T>& x, bool training, Layer<T>& next) {
        return next.forward(forward(x, training), training);
    }
    // dy: the gradient of next's output -> dx of this layer's input; adds both layers' parameter gradients.
    virtual Tensor<T> backward_fused(const Tensor<T>& dy, Layer<T>& next) { return backward(next.backward(dy)); }

    // Image-wise layers (the random flips and warps, Rescaling) keep the shape (H, W, C) and treat each image on
    // its own. Sequential runs two or more of them in a row image by image: each image goes through all of them
    // while it is in the core's cache, instead of each layer sweeping the whole batch through memory. The
    // numbers are the same as layer by layer, because forward() is built from the same two calls:
    //   begin_images(x, training)  everything forward does except the pixels: the input checks, the random draws
    //                              for the whole batch (in forward's order), what backward needs. Returns false
    //                              when the layer passes this batch through unchanged (a random layer at inference).
    //   forward_image(n, in, out)  out (H, W, C) = this layer on image n of the batch, whose input is `in` (H, W, C);
    //                              returns false, leaving out untouched, when image n passes through unchanged.
    //                              Called from many threads at once; in and out never overlap.
    //                              Must not throw (checks belong in begin_images).
    // backward() then works as after forward(). A subclass that overrides forward() of such a layer must also
    // override image_wise() to return false, or Sequential's chains would not call its forward().
    [[nodiscard]] virtual bool image_wise() const { return false; }
    virtual bool begin_images(const Tensor<T>& /*x*/, bool /*training*/) {
        fail(where(), " is not an image-wise layer");
    }
    virtual bool forward_image(index_t /*n*/, const T* /*in*/, T* /*out*/) const {
        fail(where(), " is not an image-wise layer");
    }

    // Whether backward() must return dL/dx. Sequential turns it off for the call on the lowest layer it trains
    // through, whose input gradient nobody reads (it is the images, or a frozen base): Conv2D and Dense then
    // skip their dX product, which for a first convolution also saves col2im. Such a backward returns an empty
    // tensor; a layer that ignores the flag just computes dx anyway.
    [[nodiscard]] bool input_gradient_needed() const { return input_gradient_needed_; }
    void set_input_gradient_needed(bool needed) { input_gradient_needed_ = needed; }

    // The layer's weights in Keras' order (trainable first). Empty for layers without weights.
    virtual std::vector<Weight<T>*> weights() { return {}; }

    // Keras' `layer.trainable`: a frozen layer's weights count as non-trainable and the optimizer skips them.
    [[nodiscard]] bool trainable() const { return trainable_; }
    void set_trainable(bool trainable) { trainable_ = trainable; }

    // Layer hyper-parameters for summary() and saving; from_config() of each layer reverses it.
    [[nodiscard]] virtual Config get_config() const { return {}; }

    // Number of scalars in all weights (Keras' count_params()).
    [[nodiscard]] index_t count_params() {
        index_t n = 0;
        for (auto* w : weights()) n += w->value.size();
        return n;
    }
    // Sets every gradient to zero (the model does this before each batch).
    void zero_grad() {
        for (auto* w : weights()) {
            // Split across threads for large gradients (the flowers model's Dense kernel: 16 MB every step).
            T* g = w->grad.data();
            const index_t n = w->grad.size(), block = index_t{1} << 16, blocks = (n + block - 1) / block;
#pragma omp parallel for num_threads(blocks > 1 ? num_threads() : 1) schedule(static)
            for (index_t b = 0; b < blocks; ++b) std::fill(g + b * block, g + std::min(n, (b + 1) * block), T(0));
        }
    }

protected:
    // Validates the per-sample input shape, creates weights, returns the per-sample output shape.
    virtual Shape build_impl(const Shape& input_shape) = 0;

    // The start of every error message: Conv2D "conv2d_1"
    [[nodiscard]] std::string where() const { return class_name() + " \"" + name_ + "\""; }
    // Checks that a forward input matches the built shape (batch axis excluded).
    void check_input(const Tensor<T>& x) const {
        require(built_, where(), ": forward() called before build()");
        require(x.rank() == input_shape_.rank() + 1 && x.shape().without_batch() == input_shape_, where(),
                ": expected input of shape ", input_shape_.to_keras_string(), ", got ", x.shape().to_string());
    }
    // Checks that a backward gradient matches the output of the last forward.
    void check_grad(const Tensor<T>& dy, index_t batch) const {
        require(dy.rank() == output_shape_.rank() + 1 && dy.dim(0) == batch &&
                    dy.shape().without_batch() == output_shape_,
                where(), ": backward() expected a gradient of shape ", output_shape_.with_batch(batch).to_string(),
                ", got ", dy.shape().to_string());
    }
    Generator& rng() { return rng_; }

private:
    std::string name_;
    Shape input_shape_;
    Shape output_shape_;
    bool built_ = false;
    bool trainable_ = true;
    bool input_gradient_needed_ = true;
    Generator rng_;
};

template <class T = float>
using LayerPtr = std::shared_ptr<Layer<T>>;

}  // namespace layers
}  // namespace lumen
