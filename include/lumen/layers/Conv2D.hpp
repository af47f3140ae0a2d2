// Conv2D: 2-D convolution over NHWC images, Keras' layers.Conv2D.
//
//   layers::Conv2D(16, 3, {.padding = "same", .activation = "relu"})
//
// Kernel HWIO (kh, kw, in_channels, filters), bias (filters,). Computed as im2col + GEMM (docs/convolution.md):
//   forward   Z = cols(X) * W + b,  Y = activation(Z)        cols (N*OH*OW, KH*KW*C), W (KH*KW*C, F)
//   backward  dZ = activation'(dY);  db += sum_rows dZ;  dW += cols^T * dZ;  dX = col2im(dZ * W^T)
//             (dX only when input_gradient_needed(): a model's first convolution skips it)
// The rows are processed in tiles small enough to stay in cache: a tile is gathered by im2col into this
// layer's one reusable workspace, multiplied, and bias + activation are applied while the tile is still hot:
// for ReLU or no activation inside the product's store of each register block (gemm_nn_bias_act, which also
// writes ReLU's 0/1 mask that backward keeps), else in a pass over the tile. Backward likewise applies activation' to a
// dY tile just before using it (ReLU': one pass, dZ = (Y > 0) * dY).
// Backward recomputes each tile's columns instead of keeping the whole column matrix (9x the input for a
// 3x3 kernel, 150 MB for the flowers model's second convolution): the gather is cheap next to the two
// products and the working set stays in cache.
// A 1x1, stride-1 convolution skips im2col: its input already is the column matrix.
// Two other paths compute the same sums where they are faster (ReLU or no activation, float for the second):
// * a 3x3 stride-1 convolution with 16 or more input channels and filters takes Winograd F(2x2, 3x3)
//   (kernels/winograd.hpp): 2.25x fewer multiplications;
// * a float layer with fewer than 16 input channels (a first layer on RGB or grey images) skips im2col where the
//   packed AVX-512 kernel exists: it reads each window straight from the image (kernels/implicit_conv.hpp).
// set_algorithm() forces a path (tests compare them).
// Threads: forward splits tiles, backward splits images (col2im of one image never races with another);
// each thread owns a slice of the workspace and private dW/db partials, summed in a fixed order, so results
// depend on the thread count but not on scheduling.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/activations.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/kernels/gemm.hpp"
#include "lumen/kernels/im2col.hpp"
#include "lumen/kernels/implicit_conv.hpp"
#include "lumen/kernels/winograd.hpp"
#include "lumen/layers/initializers.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

using kernels::Size2;

// How Conv2D computes its products: chosen per shape (automatic), or forced, e.g. to compare the two.
enum class ConvAlgorithm { automatic, im2col, winograd, implicit_gemm };

// Keras' keyword arguments of Conv2D (besides filters and kernel_size), with Keras' defaults.
struct Conv2DOptions {
    Size2 strides = 1;
    std::string padding = "valid";  // "valid" or "same" (TF's rule: an odd pad goes bottom/right)
    Size2 dilation_rate = 1;        // != 1 only with strides 1, as in Keras
    std::string activation = "linear";
    bool use_bias = true;
    Initializer kernel_initializer = "glorot_uniform";
    Initializer bias_initializer = "zeros";
    Regularizer kernel_regularizer = {};
    std::string name = {};
};

template <class T = float>
class Conv2D : public Layer<T> {
public:
    Conv2D(index_t filters, Size2 kernel_size, Conv2DOptions options = {})
        : filters_(filters), kernel_size_(kernel_size), options_(std::move(options)) {
        this->set_name(options_.name);
        const std::string at = this->where();
        require(filters_ >= 1, at, ": filters must be >= 1, got ", filters_);
        require(kernel_size_.h >= 1 && kernel_size_.w >= 1, at, ": kernel_size must be >= 1, got (",
                kernel_size_.h, ", ", kernel_size_.w, ")");
        require(options_.strides.h >= 1 && options_.strides.w >= 1, at, ": strides must be >= 1, got (",
                options_.strides.h, ", ", options_.strides.w, ")");
        require(options_.dilation_rate.h >= 1 && options_.dilation_rate.w >= 1, at,
                ": dilation_rate must be >= 1, got (", options_.dilation_rate.h, ", ", options_.dilation_rate.w, ")");
        require(options_.dilation_rate == Size2(1) || options_.strides == Size2(1), at,
                ": dilation_rate != 1 is incompatible with strides != 1 (as in Keras), got strides (",
                options_.strides.h, ", ", options_.strides.w, ") and dilation_rate (", options_.dilation_rate.h, ", ",
                options_.dilation_rate.w, ")");
        padding_ = kernels::padding_from_name(options_.padding, at);
        activation_ = kernels::activation_from_name(options_.activation, at);
        options_.activation = kernels::activation_name(activation_);
        options_.kernel_initializer.validate(at, "kernel_initializer");
        options_.bias_initializer.validate(at, "bias_initializer");
        options_.kernel_regularizer.validate(at, "kernel_regularizer");
    }

    [[nodiscard]] std::string class_name() const override { return "Conv2D"; }

    // x: (N, H, W, C) -> y: (N, OH, OW, filters)
    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        const kernels::ConvGeometry g = geometry(x.dim(0));
        const index_t M = g.rows(), K = g.patch(), F = filters_;
        Tensor<T> y(Shape{g.n, g.oh, g.ow, F}, uninitialized);  // every tile is written by its product
        // What backward needs of the activation: for ReLU one byte per output, 1 where y > 0 (written by the
        // product's store); for the others their output y, or for gelu/swish their input z, copied tile by tile
        // while in cache. Both into storage reused from call to call.
        const bool relu = activation_ == kernels::ActivationFn::relu;
        T* keep = nullptr;
        std::uint8_t* positive = nullptr;
        if (relu) {
            positive_.resize(static_cast<std::size_t>(y.size()));
            positive = positive_.data();
        } else if (activation_ != kernels::ActivationFn::linear) {
            y_.resize_uninitialized(y.shape());
            keep = y_.data();
        }
        const T* b = options_.use_bias ? bias_.value.data() : nullptr;
        const int threads = num_threads();
        path_ = choose_path(g);  // backward follows the same path
        pooled_ = false;
        if (path_ == ConvAlgorithm::implicit_gemm) {
            const kernels::implicit_conv::Padded p = keep_view_input(g, x, threads);
            kernels::implicit_conv::forward(g, p, F, x_.data(), kernel_.value.data(), b, relu, y.data(), positive,
                                            threads);
            return y;
        }
        keep_input(x);
        if (path_ == ConvAlgorithm::winograd) {
            kernels::winograd::forward(g, F, x.data(), kernel_.value.data(), b, relu, y.data(), positive,
                                       workspace(kernels::winograd::forward_workspace(g, F, threads)), threads);
            return y;
        }
        const bool pointwise = g.is_pointwise();
        const index_t tile = tile_rows(K), tiles = (M + tile - 1) / tile;
        T* ws = pointwise ? nullptr : workspace(threads * tile * K);
        const T* w = kernel_.value.data();
        const bool fused = relu || activation_ == kernels::ActivationFn::linear;  // bias + act in the product's store
#pragma omp parallel for num_threads(threads) schedule(static)
        for (index_t t = 0; t < tiles; ++t) {
            const index_t r0 = t * tile, rows = std::min(tile, M - r0);
            const T* a = x.data() + r0 * K;
            if (!pointwise) {
                T* cols = ws + thread_index() * tile * K;
                kernels::im2col(g, x.data(), r0, rows, cols);
                a = cols;
            }
            T* yt = y.data() + r0 * F;
            if (fused) {  // Y = act(cols * W + b) for ReLU or none, kept for backward as each block is stored
                kernels::gemm_nn_bias_act(rows, F, K, a, K, w, F, yt, F, b, relu,
                                          positive ? positive + r0 * F : nullptr, F);
            } else {
                kernels::gemm_nn(rows, F, K, a, K, w, F, yt, F, false);  // Z = cols * W
                finish_tile(yt, keep ? keep + r0 * F : nullptr, rows);   // Y = act(Z + b)
            }
        }
        return y;
    }

    // dy: (N, OH, OW, filters) -> dx: (N, H, W, C); kernel.grad += dW, bias.grad += db
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(!x_.empty(), this->where(), ": backward() called before forward()");
        require(!pooled_, this->where(), ": the last forward was fused with max pooling; call backward_max_pool2x2()");
        this->check_grad(dy, x_.dim(0));
        const kernels::ConvGeometry g = geometry(x_.dim(0));
        const index_t K = g.patch(), F = filters_, pixels = g.oh * g.ow;
        // dx is cleared image by image by the thread that accumulates into it, while that image is in cache
        // (col2im adds); a 1x1 convolution writes its dx rows outright. When nobody reads dx (the model's first
        // layer: input_gradient_needed() is false) only dW and db are computed and dx stays empty.
        const bool want_dx = this->input_gradient_needed();
        Tensor<T> dx = want_dx ? Tensor<T>(Shape{g.n, g.h, g.w, g.c}, uninitialized) : Tensor<T>();
        const int threads = num_threads();
        const bool relu = activation_ == kernels::ActivationFn::relu;
        if (path_ == ConvAlgorithm::implicit_gemm) {
            T* ws = workspace(kernels::implicit_conv::backward_workspace(g, F, want_dx, threads));
            kernels::implicit_conv::backward(g, kernels::implicit_conv::padded(g), F, x_.data(), kernel_.value.data(),
                                             relu ? positive_.data() : nullptr, dy.data(), want_dx ? dx.data() : nullptr,
                                             kernel_.grad.data(), options_.use_bias ? bias_.grad.data() : nullptr, ws,
                                             threads);
            return dx;
        }
        if (path_ == ConvAlgorithm::winograd) {
            const std::uint8_t* mask = relu ? positive_.data() : nullptr;
            kernels::winograd::backward(g, F, x_.data(), kernel_.value.data(), mask, dy.data(),
                                        want_dx ? dx.data() : nullptr, kernel_.grad.data(),
                                        options_.use_bias ? bias_.grad.data() : nullptr,
                                        workspace(kernels::winograd::backward_workspace(g, F, threads)), threads);
            return dx;
        }
        const index_t image_size = g.h * g.w * g.c;
        const bool pointwise = g.is_pointwise(), linear = activation_ == kernels::ActivationFn::linear;
        const index_t tile = std::min(tile_rows(K), pixels);
        const index_t slot = 2 * tile * K + tile * F + K * F + F;  // cols, dcols, dZ tile, dW and db partials
        T* ws = workspace(threads * slot);
        for (int t = 0; t < threads; ++t) std::fill(ws + t * slot + 2 * tile * K + tile * F, ws + (t + 1) * slot, T(0));
        const T* w = kernel_.value.data();
        const bool bias = options_.use_bias;
        std::optional<kernels::GemmNtFixedB<T>> times_wt;  // (rows, F) -> (rows, K): multiplies by W^T
        if (want_dx) times_wt.emplace(K, F, w, F);
#pragma omp parallel num_threads(threads)
        {
            T* cols = ws + thread_index() * slot;
            T* dcols = cols + tile * K;
            T* dzbuf = dcols + tile * K;
            T* dw = dzbuf + tile * F;
            T* db = dw + K * F;
#pragma omp for schedule(static)
            for (index_t n = 0; n < g.n; ++n) {
                if (want_dx && !pointwise)
                    std::fill(dx.data() + n * image_size, dx.data() + (n + 1) * image_size, T(0));
                for (index_t r0 = n * pixels; r0 < (n + 1) * pixels; r0 += tile) {
                    const index_t rows = std::min(tile, (n + 1) * pixels - r0);
                    const T* dz = dy.data() + r0 * F;
                    if (relu) {  // dZ = (Y > 0) * dY in one pass over the tile
                        const std::uint8_t* pk = positive_.data() + r0 * F;
#pragma omp simd
                        for (index_t i = 0; i < rows * F; ++i) dzbuf[i] = pk[i] ? dz[i] : T(0);
                        dz = dzbuf;
                    } else if (!linear) {  // dZ = act'(.) * dY, on the tile
                        std::copy(dz, dz + rows * F, dzbuf);
                        activation_backward_tile(y_.data() + r0 * F, dzbuf, rows);
                        dz = dzbuf;
                    }
                    const T* a = x_.data() + r0 * K;
                    if (!pointwise) {
                        kernels::im2col(g, x_.data(), r0, rows, cols);
                        a = cols;
                    }
                    kernels::gemm_tn(K, F, rows, a, K, dz, F, dw, F, true);  // dW += cols^T dZ
                    if (bias)
                        for (index_t r = 0; r < rows; ++r) {
#pragma omp simd
                            for (index_t f = 0; f < F; ++f) db[f] += dz[r * F + f];
                        }
                    if (!want_dx) continue;
                    if (pointwise) {
                        (*times_wt)(rows, dz, F, dx.data() + r0 * K, K, false);  // dX = dZ W^T
                    } else {
                        (*times_wt)(rows, dz, F, dcols, K, false);  // dcols = dZ W^T
                        kernels::col2im_add(g, dcols, r0, rows, dx.data());
                    }
                }
            }
        }
        for (int t = 0; t < threads; ++t) {  // fixed order: the same sums for the same thread count
            const T* dw = ws + t * slot + 2 * tile * K + tile * F;
            kernel_.grad.array() += Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(dw, K * F);
            if (bias) bias_.grad.array() += Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(dw + K * F, F);
        }
        return dx;
    }

    // ---- Fused with a following MaxPooling2D(2x2) (Sequential does this by itself; docs/performance.md) ----
    // A 2x2 max pooling right after this layer only needs the maximum of each window: computed from the conv
    // output while it is in registers or cache, it never reaches memory, and backward builds dZ from the pooled
    // gradient as it goes (the flowers model's first layer wrote and read back 66 MB of output and 66 MB of
    // gradient a step). Same numbers as the two layers one after the other: each window's values are computed
    // alike and compared in the same order (tests/test_conv2d.cpp). Only the Winograd and implicit-GEMM paths fuse.
    [[nodiscard]] bool can_fuse_max_pool2x2() const {
        if (!this->built() || this->input_shape().rank() != 3) return false;
        const ConvAlgorithm path = fusable() ? choose_path(geometry(1)) : ConvAlgorithm::im2col;
        return path == ConvAlgorithm::winograd || path == ConvAlgorithm::implicit_gemm;
    }
    // x: (N, H, W, C) -> MaxPooling2D()(this layer(x)): (N, OH/2, OW/2, filters)
    Tensor<T> forward_max_pool2x2(const Tensor<T>& x, bool /*training*/) {
        this->check_input(x);
        require(can_fuse_max_pool2x2(), this->where(), ": cannot fuse max pooling on the ", algorithm_name(),
                " path");
        const kernels::ConvGeometry g = geometry(x.dim(0));
        const index_t F = filters_;
        Tensor<T> y(Shape{g.n, g.oh / 2, g.ow / 2, F}, uninitialized);
        pool_code_.resize(static_cast<std::size_t>(y.size()));
        const bool relu = activation_ == kernels::ActivationFn::relu;
        const T* b = options_.use_bias ? bias_.value.data() : nullptr;
        const int threads = num_threads();
        path_ = choose_path(g);
        pooled_ = true;
        if (path_ == ConvAlgorithm::implicit_gemm) {
            const kernels::implicit_conv::Padded p = keep_view_input(g, x, threads);
            kernels::implicit_conv::forward_max_pool2x2(
                g, p, F, x_.data(), kernel_.value.data(), b, relu, y.data(), pool_code_.data(),
                workspace(kernels::implicit_conv::pooled_forward_workspace(g, F, threads)), threads);
        } else {
            keep_input(x);
            kernels::winograd::forward(g, F, x.data(), kernel_.value.data(), b, relu, y.data(), nullptr,
                                       workspace(kernels::winograd::forward_workspace(g, F, threads)), threads,
                                       pool_code_.data());
        }
        return y;
    }
    // dpooled: (N, OH/2, OW/2, filters) -> dx: (N, H, W, C); kernel.grad += dW, bias.grad += db
    Tensor<T> backward_max_pool2x2(const Tensor<T>& dpooled) {
        require(!x_.empty() && pooled_, this->where(), ": backward_max_pool2x2() called before forward_max_pool2x2()");
        const kernels::ConvGeometry g = geometry(x_.dim(0));
        const Shape want{g.n, g.oh / 2, g.ow / 2, filters_};
        require(dpooled.shape() == want, this->where(), ": the pooled gradient must have shape ", want.to_string(),
                ", got ", dpooled.shape().to_string());
        const bool want_dx = this->input_gradient_needed();
        Tensor<T> dx = want_dx ? Tensor<T>(Shape{g.n, g.h, g.w, g.c}, uninitialized) : Tensor<T>();
        const int threads = num_threads();
        T* db = options_.use_bias ? bias_.grad.data() : nullptr;
        if (path_ == ConvAlgorithm::implicit_gemm) {
            T* ws = workspace(kernels::implicit_conv::backward_workspace(g, filters_, want_dx, threads));
            kernels::implicit_conv::backward_max_pool2x2(g, kernels::implicit_conv::padded(g), filters_, x_.data(),
                                                         kernel_.value.data(), pool_code_.data(), dpooled.data(),
                                                         want_dx ? dx.data() : nullptr, kernel_.grad.data(), db, ws,
                                                         threads);
        } else {
            kernels::winograd::backward(g, filters_, x_.data(), kernel_.value.data(), nullptr, dpooled.data(),
                                        want_dx ? dx.data() : nullptr, kernel_.grad.data(), db,
                                        workspace(kernels::winograd::backward_workspace(g, filters_, threads)),
                                        threads, pool_code_.data());
        }
        return dx;
    }

    // Whether the last forward pass was forward_max_pool2x2 (for tests and the curious).
    [[nodiscard]] bool last_forward_fused() const { return pooled_; }

    // Layer's fusion hooks: with a following 2x2 MaxPooling2D, the two run as forward_max_pool2x2 and
    // backward_max_pool2x2 (Sequential calls these).
    [[nodiscard]] bool fuses_with(const Layer<T>& next) const override {
        const auto* pool = dynamic_cast<const MaxPooling2D<T>*>(&next);
        return pool && pool->pools_2x2_windows() && can_fuse_max_pool2x2();
    }
    Tensor<T> forward_fused(const Tensor<T>& x, bool training, Layer<T>& next) override {
        require(fuses_with(next), this->where(), ": cannot fuse with ", next.class_name(), " \"", next.name(), "\"");
        return forward_max_pool2x2(x, training);
    }
    Tensor<T> backward_fused(const Tensor<T>& dy, Layer<T>& /*next*/) override { return backward_max_pool2x2(dy); }

    std::vector<Weight<T>*> weights() override {
        if (options_.use_bias) return {&kernel_, &bias_};
        return {&kernel_};
    }
    Weight<T>& kernel() { return kernel_; }
    Weight<T>& bias() { return bias_; }

    [[nodiscard]] index_t filters() const { return filters_; }
    [[nodiscard]] Size2 kernel_size() const { return kernel_size_; }
    [[nodiscard]] const Conv2DOptions& options() const { return options_; }
    [[nodiscard]] kernels::ActivationFn activation() const { return activation_; }

    // Forces the im2col, Winograd or implicit-GEMM path (automatic: Winograd where kernels::winograd::wins, the
    // implicit GEMM for float where kernels::implicit_conv::wins, else im2col). Both need ReLU or no activation;
    // Winograd a 3x3 window, stride 1 and no dilation; the implicit GEMM no dilation (without AVX-512 its products
    // are plain loops: right but slow). forward() says so when the layer cannot take the forced path.
    void set_algorithm(ConvAlgorithm a) { algorithm_ = a; }
    [[nodiscard]] ConvAlgorithm algorithm() const { return algorithm_; }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()},
                {"filters", std::to_string(filters_)},
                {"kernel_size", kernels::size2_to_string(kernel_size_)},
                {"strides", kernels::size2_to_string(options_.strides)},
                {"padding", kernels::padding_name(padding_)},
                {"dilation_rate", kernels::size2_to_string(options_.dilation_rate)},
                {"activation", options_.activation},
                {"use_bias", options_.use_bias ? "true" : "false"},
                {"kernel_initializer", options_.kernel_initializer.to_string()},
                {"bias_initializer", options_.bias_initializer.to_string()},
                {"kernel_regularizer", regularizer_to_string(options_.kernel_regularizer)}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        const std::string cls = "Conv2D";
        auto get = [&](const char* key) { return config_value(c, key, cls); };
        Conv2DOptions o;
        o.strides = kernels::size2_from_string(get("strides"), cls);
        o.padding = get("padding");
        o.dilation_rate = kernels::size2_from_string(get("dilation_rate"), cls);
        o.activation = get("activation");
        o.use_bias = get("use_bias") == "true" || get("use_bias") == "True" || get("use_bias") == "1";
        o.kernel_initializer = Initializer(get("kernel_initializer"));
        o.bias_initializer = Initializer(get("bias_initializer"));
        o.kernel_regularizer = regularizer_from_string(get("kernel_regularizer"));
        o.name = get("name");
        return std::make_shared<Conv2D<T>>(std::stoll(get("filters")),
                                           kernels::size2_from_string(get("kernel_size"), cls), o);
    }

protected:
    Shape build_impl(const Shape& s) override {
        kernels::require_image_input(s, this->where());
        const kernels::ConvGeometry g = geometry(1, s);
        const Shape kshape{kernel_size_.h, kernel_size_.w, s[2], filters_};
        kernel_ = Weight<T>{"kernel", Tensor<T>(kshape), Tensor<T>(kshape), true, options_.kernel_regularizer};
        options_.kernel_initializer(kernel_.value, this->rng());
        bias_ = Weight<T>{"bias", Tensor<T>(Shape{filters_}), Tensor<T>(Shape{filters_}), true, {}};
        if (options_.use_bias) options_.bias_initializer(bias_.value, this->rng());
        x_ = Tensor<T>();
        return Shape{g.oh, g.ow, filters_};
    }

private:
    // Rows per tile: about 512 KiB of float columns, so a tile stays in L2 next to W. Measured with Eigen on
    // the flowers shapes (bench/README.md): 64-row tiles ran at half the speed of 512-row ones for K = 288.
    static index_t tile_rows(index_t K) {
        return std::clamp<index_t>((index_t{1} << 17) / std::max<index_t>(K, 1), 256, 4096);
    }

    kernels::ConvGeometry geometry(index_t batch, const Shape& s) const {
        return kernels::conv_geometry(batch, s[0], s[1], s[2], kernel_size_, options_.strides, options_.dilation_rate,
                                      padding_, this->where());
    }
    kernels::ConvGeometry geometry(index_t batch) const { return geometry(batch, this->input_shape()); }

    bool fusable() const {  // bias and activation happen in the product's store: ReLU or none
        return activation_ == kernels::ActivationFn::relu || activation_ == kernels::ActivationFn::linear;
    }
    // The path forward() takes for this shape: the forced one (after checking it applies) or the automatic choice.
    ConvAlgorithm choose_path(const kernels::ConvGeometry& g) const {
        switch (algorithm_) {
            case ConvAlgorithm::im2col: return ConvAlgorithm::im2col;
            case ConvAlgorithm::winograd:
                require(kernels::winograd::supports(g) && fusable(), this->where(),
                        ": the Winograd algorithm needs a 3x3 kernel, strides 1, dilation_rate 1 and activation "
                        "\"relu\" or \"linear\"; use ConvAlgorithm::im2col or automatic for this layer");
                return ConvAlgorithm::winograd;
            case ConvAlgorithm::implicit_gemm:
                require(kernels::implicit_conv::supports(g) && fusable(), this->where(),
                        ": the implicit GEMM algorithm needs dilation_rate 1 and activation \"relu\" or \"linear\"; "
                        "use ConvAlgorithm::im2col or automatic for this layer");
                return ConvAlgorithm::implicit_gemm;
            case ConvAlgorithm::automatic: break;
        }
        if (!fusable()) return ConvAlgorithm::im2col;
        if (kernels::winograd::wins(g, filters_)) return ConvAlgorithm::winograd;
        if (std::is_same_v<T, float> && kernels::implicit_conv::wins(g, filters_)) return ConvAlgorithm::implicit_gemm;
        return ConvAlgorithm::im2col;
    }

    // x_ = x for backward, copied by all threads: one thread copying the flowers model's convolution inputs
    // (74 MB a step) left the other idle for ~2% of a step.
    void keep_input(const Tensor<T>& x) {
        x_.resize_uninitialized(x.shape());
        const index_t n = x.size(), block = index_t{1} << 16, blocks = (n + block - 1) / block;
        const T* from = x.data();
        T* to = x_.data();
#pragma omp parallel for num_threads(blocks > 1 ? num_threads() : 1) schedule(static)
        for (index_t b = 0; b < blocks; ++b) std::copy(from + b * block, from + std::min(n, (b + 1) * block), to + b * block);
    }

    // For the implicit GEMM: x_ = the image its windows are read from (backward reads it too), the zero-bordered
    // copy when the windows reach outside x, else x itself.
    kernels::implicit_conv::Padded keep_view_input(const kernels::ConvGeometry& g, const Tensor<T>& x, int threads) {
        const kernels::implicit_conv::Padded p = kernels::implicit_conv::padded(g);
        if (!p.copy) {
            keep_input(x);
            return p;
        }
        x_.resize_uninitialized(Shape{g.n, p.h, p.w, g.c});
        kernels::implicit_conv::pad_input(g, p, x.data(), x_.data(), threads);
        return p;
    }
    [[nodiscard]] const char* algorithm_name() const {
        switch (choose_path(geometry(1))) {
            case ConvAlgorithm::winograd: return "Winograd";
            case ConvAlgorithm::implicit_gemm: return "implicit GEMM";
            default: return "im2col";
        }
    }

    // The one workspace: grown to the largest request, reused by every call.
    T* workspace(index_t elements) {
        if (static_cast<index_t>(workspace_.size()) < elements) workspace_.resize(static_cast<std::size_t>(elements));
        return workspace_.data();
    }

    // Bias, then activation, on a (rows, F) tile still in cache; `keep` (if any) receives what backward
    // needs: the pre-activation for gelu/swish, else the output. The activation runs in row chunks below its
    // parallel grain, so it never opens a nested thread team.
    void finish_tile(T* y, T* keep, index_t rows) const {
        const index_t F = filters_;
        if (options_.use_bias) {
            const T* b = bias_.value.data();
            for (index_t r = 0; r < rows; ++r) {
#pragma omp simd
                for (index_t f = 0; f < F; ++f) y[r * F + f] += b[f];
            }
        }
        if (activation_ == kernels::ActivationFn::linear) return;
        const bool keep_input = kernels::activation_needs_input(activation_);
        const index_t chunk = chunk_rows();
        for (index_t r = 0; r < rows; r += chunk) {
            const index_t n = std::min(chunk, rows - r);
            if (keep_input) std::copy(y + r * F, y + (r + n) * F, keep + r * F);
            kernels::activation_forward(activation_, y + r * F, y + r * F, n, F);
            if (!keep_input) std::copy(y + r * F, y + (r + n) * F, keep + r * F);
        }
    }
    // d (rows, F) <- act'(.) * d for one tile; `kept` is what finish_tile kept for these rows.
    void activation_backward_tile(const T* kept, T* d, index_t rows) const {
        const bool input = kernels::activation_needs_input(activation_);
        const index_t chunk = chunk_rows(), F = filters_;
        for (index_t r = 0; r < rows; r += chunk) {
            const index_t n = std::min(chunk, rows - r);
            kernels::activation_backward(activation_, input ? kept + r * F : nullptr, input ? nullptr : kept + r * F,
                                         d + r * F, n, F);
        }
    }
    [[nodiscard]] index_t chunk_rows() const {
        return std::max<index_t>(1, (kernels::detail::kParallelGrain - 1) / filters_);
    }

    static std::string regularizer_to_string(const Regularizer& r) {
        if (!r.active()) return "none";
        std::ostringstream s;
        s.precision(17);
        s << "l1_l2(" << r.l1 << "," << r.l2 << ")";
        return s.str();
    }
    static Regularizer regularizer_from_string(std::string text) {
        if (text == "none" || text.empty()) return {};
        require(text.rfind("l1_l2(", 0) == 0, "Conv2D: cannot read kernel_regularizer \"", text, "\"");
        for (char& ch : text)
            if (ch == '(' || ch == ')' || ch == ',') ch = ' ';
        std::istringstream in(text.substr(5));
        Regularizer r;
        in >> r.l1 >> r.l2;
        return r;
    }

    index_t filters_;
    Size2 kernel_size_;
    Conv2DOptions options_;
    kernels::Padding padding_ = kernels::Padding::valid;
    kernels::ActivationFn activation_ = kernels::ActivationFn::linear;
    Weight<T> kernel_;
    Weight<T> bias_;
    Tensor<T> x_;  // the last forward's input (for the implicit GEMM with padding: its zero-bordered copy)
    Tensor<T> y_;  // its activation output, or for gelu/swish the pre-activation (see finish_tile)
    std::vector<std::uint8_t, AlignedAllocator<std::uint8_t>> positive_;  // for ReLU instead: 1 where y > 0
    ConvAlgorithm algorithm_ = ConvAlgorithm::automatic;
    ConvAlgorithm path_ = ConvAlgorithm::im2col;  // the path the last forward took (what x_ holds)
    bool pooled_ = false;                          // whether it was forward_max_pool2x2
    std::vector<std::uint8_t, AlignedAllocator<std::uint8_t>> pool_code_;  // its winners (0..3, 4: ReLU's zero)
    std::vector<T, AlignedAllocator<T>> workspace_;
};

}  // namespace lumen::layers
