// Dense: a fully connected layer, Keras' layers.Dense.
//
//   layers::Dense(128, {.activation = "relu"})
//
// Kernel (in, units), bias (units,). On a batch X (N, in):
//   forward   Z = X W + b,  Y = activation(Z)                  one GEMM, bias and activation in the same pass
//   backward  dZ = activation'(dY);  dW += X^T dZ;  db += sum_rows dZ;  dX = dZ W^T
// Keras applies Dense to the last axis of any input; lumen, like the Keras tutorials, expects flat features, and
// rejects an image-shaped input at build time with a hint to add Flatten (the usual mistake after Conv2D).
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/activations.hpp"
#include "lumen/layers/initializers.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

// Keras' keyword arguments of Dense (besides units), with Keras' defaults.
struct DenseOptions {
    std::string activation = "linear";
    bool use_bias = true;
    Initializer kernel_initializer = "glorot_uniform";
    Initializer bias_initializer = "zeros";
    Regularizer kernel_regularizer = {};
    std::string name = {};
};

template <class T = float>
class Dense : public Layer<T> {
public:
    explicit Dense(index_t units, DenseOptions options = {}) : units_(units), options_(std::move(options)) {
        this->set_name(options_.name);
        const std::string at = this->where();
        require(units_ >= 1, at, ": units must be >= 1, got ", units_);
        activation_ = kernels::activation_from_name(options_.activation, at);
        options_.activation = kernels::activation_name(activation_);
        options_.kernel_initializer.validate(at, "kernel_initializer");
        options_.bias_initializer.validate(at, "bias_initializer");
        options_.kernel_regularizer.validate(at, "kernel_regularizer");
    }

    [[nodiscard]] std::string class_name() const override { return "Dense"; }

    // x: (N, in) -> y: (N, units)
    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        const index_t n = x.dim(0), in = x.dim(1);
        Tensor<T> y(Shape{n, units_}, uninitialized);
        auto Y = y.matrix(n, units_);
        const auto X = x.matrix(n, in);
        const auto W = kernel_.value.matrix(in, units_);
        in_parts(units_, [&](index_t j, index_t cols) {  // Y[:, j..] = X W[:, j..]: each thread half of W's columns
            Y.middleCols(j, cols).noalias() = X * W.middleCols(j, cols);
        });
        if (options_.use_bias) Y.rowwise() += bias_.value.matrix(1, units_).row(0);
        x_ = x;
        if (kernels::activation_needs_input(activation_)) z_ = y;
        kernels::activation_forward(activation_, y.data(), y.data(), n, units_);
        if (activation_ != kernels::ActivationFn::linear) y_ = y;
        return y;
    }

    // dy: (N, units) -> dx: (N, in); kernel.grad += x^T dZ, bias.grad += column sums of dZ
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(!x_.empty(), this->where(), ": backward() called before forward()");
        const index_t n = x_.dim(0), in = x_.dim(1);
        this->check_grad(dy, n);
        Tensor<T> dz = dy;
        kernels::activation_backward(activation_, z_.empty() ? nullptr : z_.data(), y_.empty() ? nullptr : y_.data(),
                                     dz.data(), n, units_);
        const auto dZ = static_cast<const Tensor<T>&>(dz).matrix(n, units_);
        const auto X = x_.matrix(n, in);
        auto dW = kernel_.grad.matrix(in, units_);
        if (options_.use_bias) bias_.grad.matrix(1, units_).noalias() += dZ.colwise().sum();
        const bool want_dx = this->input_gradient_needed();
        Tensor<T> dx = want_dx ? Tensor<T>(Shape{n, in}, uninitialized) : Tensor<T>();
        const auto W = kernel_.value.matrix(in, units_);
        auto dX = dx.matrix(n, want_dx ? in : 0);
        in_parts(in, [&](index_t k, index_t rows) {  // each thread its rows of W and dW, its columns of X and dX
            dW.middleRows(k, rows).noalias() += X.middleCols(k, rows).transpose() * dZ;  // dW += X^T dZ
            if (want_dx) dX.middleCols(k, rows).noalias() = dZ * W.middleRows(k, rows).transpose();  // dX = dZ W^T
        });
        return dx;
    }

    std::vector<Weight<T>*> weights() override {
        if (options_.use_bias) return {&kernel_, &bias_};
        return {&kernel_};
    }
    Weight<T>& kernel() { return kernel_; }
    Weight<T>& bias() { return bias_; }

    [[nodiscard]] index_t units() const { return units_; }
    [[nodiscard]] const DenseOptions& options() const { return options_; }
    [[nodiscard]] kernels::ActivationFn activation() const { return activation_; }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()},
                {"units", std::to_string(units_)},
                {"activation", options_.activation},
                {"use_bias", options_.use_bias ? "true" : "false"},
                {"kernel_initializer", options_.kernel_initializer.to_string()},
                {"bias_initializer", options_.bias_initializer.to_string()},
                {"kernel_regularizer", regularizer_to_string(options_.kernel_regularizer)}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        const std::string cls = "Dense";
        auto get = [&](const char* key) { return config_value(c, key, cls); };
        DenseOptions o;
        o.activation = get("activation");
        o.use_bias = get("use_bias") == "true" || get("use_bias") == "True" || get("use_bias") == "1";
        o.kernel_initializer = Initializer(get("kernel_initializer"));
        o.bias_initializer = Initializer(get("bias_initializer"));
        o.kernel_regularizer = regularizer_from_string(get("kernel_regularizer"));
        o.name = get("name");
        index_t units = 0;
        std::istringstream in(get("units"));
        require(static_cast<bool>(in >> units), "Dense: cannot read units \"", get("units"), "\"");
        return std::make_shared<Dense<T>>(units, o);
    }

protected:
    Shape build_impl(const Shape& s) override {
        require(s.rank() == 1, this->where(), ": expects rank-2 input (batch, features), got ", s.to_keras_string(),
                s.rank() > 1 ? "; add Flatten before it" : "; give it at least one feature axis");
        require(s[0] >= 1, this->where(), ": expects at least one input feature, got ", s.to_keras_string());
        const Shape kshape{s[0], units_};
        kernel_ = Weight<T>{"kernel", Tensor<T>(kshape), Tensor<T>(kshape), true, options_.kernel_regularizer};
        options_.kernel_initializer(kernel_.value, this->rng());
        bias_ = Weight<T>{"bias", Tensor<T>(Shape{units_}), Tensor<T>(Shape{units_}), true, {}};
        if (options_.use_bias) options_.bias_initializer(bias_.value, this->rng());
        x_ = Tensor<T>();
        return Shape{units_};
    }

private:
    static std::string regularizer_to_string(const Regularizer& r) {
        if (!r.active()) return "none";
        std::ostringstream s;
        s.precision(17);
        s << "l1_l2(" << r.l1 << "," << r.l2 << ")";
        return s.str();
    }
    static Regularizer regularizer_from_string(std::string text) {
        if (text == "none" || text.empty()) return {};
        require(text.rfind("l1_l2(", 0) == 0, "Dense: cannot read kernel_regularizer \"", text, "\"");
        for (char& ch : text)
            if (ch == '(' || ch == ')' || ch == ',') ch = ' ';
        std::istringstream in(text.substr(5));
        Regularizer r;
        require(static_cast<bool>(in >> r.l1 >> r.l2), "Dense: cannot read kernel_regularizer \"", text, "\"");
        return r;
    }

    index_t units_;
    DenseOptions options_;
    kernels::ActivationFn activation_ = kernels::ActivationFn::linear;
    Weight<T> kernel_;
    Weight<T> bias_;
    // Runs f(begin, count) on consecutive parts of [0, total), one per thread, when the kernel is large; else
    // f(0, total). Eigen's own threading gave no speed-up on the shapes of a Dense layer after Flatten (32 rows
    // against a 30976 x 128 kernel: flowers' forward took 2.8 ms on 1 and on 2 threads): split by hand, each thread
    // reads its share of the kernel. Parts are multiples of 16 (whole vectors); results depend on the thread count,
    // not on scheduling.
    template <class F>
    void in_parts(index_t total, F&& f) const {
        const int threads = kernel_.value.size() >= (index_t{1} << 18) ? num_threads() : 1;
        const index_t part = (total + 16 * threads - 1) / (16 * threads) * 16;
        if (threads == 1 || part >= total) return f(index_t{0}, total);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int t = 0; t < threads; ++t) {
            const index_t begin = t * part, count = std::min(part, total - begin);
            if (count > 0) f(begin, count);
        }
    }

    Tensor<T> x_, y_, z_;  // the last forward's input, output (activation derivative), pre-activation (gelu/swish)
};

}  // namespace lumen::layers
