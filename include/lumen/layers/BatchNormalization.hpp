// BatchNormalization over the last (channel) axis, Keras' layers.BatchNormalization with tf.keras 2.x semantics.
//
//   layers::BatchNormalization()        momentum 0.99, epsilon 1e-3, gamma ones, beta zeros
//
// Weights (Keras order): gamma, beta (trainable), moving_mean, moving_variance (non-trainable, no gradient);
// on C channels that is 4C parameters, 2C of them trainable (fewer with center/scale off).
// X is viewed as an (m, C) matrix, m = every position but the channel one (N*H*W for images).
//   training   mu, var = mean and biased variance of each column;  xhat = (x - mu) / sqrt(var + eps)
//              y = gamma * xhat + beta;  moving = moving * momentum + batch * (1 - momentum)
//              backward through the batch statistics:
//                dgamma += sum(dy * xhat);  dbeta += sum(dy)
//                dx = gamma / (m * sqrt(var + eps)) * (m * dy - dbeta - xhat * dgamma)
//   inference  the same with mu, var = moving_mean, moving_variance (constants): dx = gamma * dy / sqrt(var + eps)
// The moving variance is updated as tf.keras 2.x does: on 4-D and 5-D inputs (images) Keras uses TF's fused
// kernel, which folds in the Bessel-corrected batch variance var * m / (m - 1); on other ranks (after Dense) it
// uses the biased one. Keras 3 always uses the biased one (docs/layers.md).
// As in tf.keras 2.x, a layer with trainable == false always runs in inference mode.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/layers/initializers.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

struct BatchNormalizationOptions {
    int axis = -1;  // only the last axis is supported (-1, or its positive index counting the batch axis)
    double momentum = 0.99;
    double epsilon = 1e-3;
    bool center = true;  // learn beta
    bool scale = true;   // learn gamma
    Initializer beta_initializer = "zeros";
    Initializer gamma_initializer = "ones";
    Initializer moving_mean_initializer = "zeros";
    Initializer moving_variance_initializer = "ones";
    std::string name = {};
};

template <class T = float>
class BatchNormalization : public Layer<T> {
public:
    BatchNormalization(BatchNormalizationOptions options = {}) : options_(std::move(options)) {
        this->set_name(options_.name);
        const std::string at = this->where();
        require(options_.axis == -1 || options_.axis >= 1, at,
                ": only the channel axis (axis=-1, the last) is supported, got axis=", options_.axis);
        require(options_.momentum >= 0 && options_.momentum <= 1, at, ": momentum must be in [0, 1], got ",
                options_.momentum);
        require(options_.epsilon > 0, at, ": epsilon must be > 0, got ", options_.epsilon);
        options_.beta_initializer.validate(at, "beta_initializer");
        options_.gamma_initializer.validate(at, "gamma_initializer");
        options_.moving_mean_initializer.validate(at, "moving_mean_initializer");
        options_.moving_variance_initializer.validate(at, "moving_variance_initializer");
    }

    [[nodiscard]] std::string class_name() const override { return "BatchNormalization"; }

    // x: (N, ..., C) -> y: (N, ..., C)
    Tensor<T> forward(const Tensor<T>& x, bool training) override {
        this->check_input(x);
        const index_t C = channels_, m = x.size() / C;
        batch_mode_ = training && this->trainable();
        std::vector<double> mean(static_cast<std::size_t>(C)), var(static_cast<std::size_t>(C));
        if (batch_mode_) {
            require(m >= 1, this->where(), ": training needs at least one sample");
            batch_moments(x.data(), m, mean, var);
            const double bessel = fused_ && m > 1 ? double(m) / double(m - 1) : 1.0;
            const double mom = options_.momentum;
            for (index_t c = 0; c < C; ++c) {
                T& mm = moving_mean_.value[c];
                T& mv = moving_variance_.value[c];
                mm = static_cast<T>(double(mm) * mom + mean[c] * (1 - mom));
                mv = static_cast<T>(double(mv) * mom + var[c] * bessel * (1 - mom));
            }
        } else {
            for (index_t c = 0; c < C; ++c) {
                mean[c] = double(moving_mean_.value[c]);
                var[c] = double(moving_variance_.value[c]);
            }
        }
        inv_std_.resize(static_cast<std::size_t>(C));
        std::vector<T> shift(static_cast<std::size_t>(C)), mul(static_cast<std::size_t>(C)),
            add(static_cast<std::size_t>(C));
        for (index_t c = 0; c < C; ++c) {
            inv_std_[c] = static_cast<T>(1.0 / std::sqrt(var[c] + options_.epsilon));
            shift[c] = static_cast<T>(mean[c]);
            mul[c] = gamma_at(c);
            add[c] = options_.center ? beta_.value[c] : T(0);
        }
        xhat_.resize(x.shape());
        Tensor<T> y(x.shape());
        const T* xs = x.data();
        T* xh = xhat_.data();
        T* ys = y.data();
        const T* is = inv_std_.data();
        const T *sh = shift.data(), *mu = mul.data(), *ad = add.data();
        const int threads = x.size() >= (1 << 15) ? num_threads() : 1;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (index_t r = 0; r < m; ++r) {
#pragma omp simd
            for (index_t c = 0; c < C; ++c) {
                const T v = (xs[r * C + c] - sh[c]) * is[c];
                xh[r * C + c] = v;
                ys[r * C + c] = mu[c] * v + ad[c];
            }
        }
        return y;
    }

    // dy: (N, ..., C) -> dx: (N, ..., C); gamma.grad += sum(dy * xhat), beta.grad += sum(dy)
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(!xhat_.empty(), this->where(), ": backward() called before forward()");
        this->check_grad(dy, xhat_.dim(0));
        const index_t C = channels_, m = dy.size() / C;
        std::vector<double> dgamma(static_cast<std::size_t>(C), 0.0), dbeta(static_cast<std::size_t>(C), 0.0);
        column_sums(dy.data(), xhat_.data(), m, dbeta, dgamma);
        for (index_t c = 0; c < C; ++c) {
            if (options_.scale) gamma_.grad[c] += static_cast<T>(dgamma[c]);
            if (options_.center) beta_.grad[c] += static_cast<T>(dbeta[c]);
        }
        // dx = a * dy + b + k * xhat per channel; a, b, k depend on the mode.
        std::vector<T> a(static_cast<std::size_t>(C)), b(static_cast<std::size_t>(C), T(0)),
            k(static_cast<std::size_t>(C), T(0));
        for (index_t c = 0; c < C; ++c) {
            const double g = double(gamma_at(c)) * double(inv_std_[c]);
            a[c] = static_cast<T>(g);
            if (batch_mode_) {
                b[c] = static_cast<T>(-g * dbeta[c] / double(m));
                k[c] = static_cast<T>(-g * dgamma[c] / double(m));
            }
        }
        Tensor<T> dx(dy.shape());
        const T* d = dy.data();
        const T* xh = xhat_.data();
        T* out = dx.data();
        const T *pa = a.data(), *pb = b.data(), *pk = k.data();
        const int threads = dy.size() >= (1 << 15) ? num_threads() : 1;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (index_t r = 0; r < m; ++r) {
#pragma omp simd
            for (index_t c = 0; c < C; ++c) out[r * C + c] = pa[c] * d[r * C + c] + pb[c] + pk[c] * xh[r * C + c];
        }
        return dx;
    }

    std::vector<Weight<T>*> weights() override {
        std::vector<Weight<T>*> w;
        if (options_.scale) w.push_back(&gamma_);
        if (options_.center) w.push_back(&beta_);
        w.push_back(&moving_mean_);
        w.push_back(&moving_variance_);
        return w;
    }
    Weight<T>& gamma() { return gamma_; }
    Weight<T>& beta() { return beta_; }
    Weight<T>& moving_mean() { return moving_mean_; }
    Weight<T>& moving_variance() { return moving_variance_; }
    [[nodiscard]] const BatchNormalizationOptions& options() const { return options_; }
    // Whether the moving variance takes the Bessel-corrected batch variance (4-D and 5-D inputs, as tf.keras 2.x).
    [[nodiscard]] bool bessel_corrected_moving_variance() const { return fused_; }

    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()},
                {"axis", std::to_string(options_.axis)},
                {"momentum", number(options_.momentum)},
                {"epsilon", number(options_.epsilon)},
                {"center", options_.center ? "true" : "false"},
                {"scale", options_.scale ? "true" : "false"},
                {"beta_initializer", options_.beta_initializer.to_string()},
                {"gamma_initializer", options_.gamma_initializer.to_string()},
                {"moving_mean_initializer", options_.moving_mean_initializer.to_string()},
                {"moving_variance_initializer", options_.moving_variance_initializer.to_string()}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        const std::string cls = "BatchNormalization";
        auto get = [&](const char* key) { return config_value(c, key, cls); };
        auto read = [&](const char* key) {
            std::istringstream in(get(key));
            double v = 0;
            require(static_cast<bool>(in >> v), cls, ": cannot read ", key, " \"", get(key), "\"");
            return v;
        };
        auto flag = [&](const char* key) { return get(key) == "true" || get(key) == "True" || get(key) == "1"; };
        BatchNormalizationOptions o;
        {
            std::istringstream in(get("axis"));  // an integer: a double cast to int is undefined when out of range
            long long axis = 0;
            const bool whole = static_cast<bool>(in >> axis) && (in >> std::ws).eof();
            require(whole && axis >= -64 && axis <= 64, cls, ": cannot read axis \"", get("axis"),
                    "\" (expected an integer in [-64, 64])");
            o.axis = static_cast<int>(axis);
        }
        o.momentum = read("momentum");
        o.epsilon = read("epsilon");
        o.center = flag("center");
        o.scale = flag("scale");
        o.beta_initializer = Initializer(get("beta_initializer"));
        o.gamma_initializer = Initializer(get("gamma_initializer"));
        o.moving_mean_initializer = Initializer(get("moving_mean_initializer"));
        o.moving_variance_initializer = Initializer(get("moving_variance_initializer"));
        o.name = get("name");
        return std::make_shared<BatchNormalization<T>>(o);
    }

protected:
    Shape build_impl(const Shape& s) override {
        require(s.rank() >= 1, this->where(), ": expects an input with a channel axis, got ", s.to_keras_string());
        require(options_.axis == -1 || options_.axis == s.rank(), this->where(), ": axis=", options_.axis,
                " is not the last axis of input ", s.to_keras_string(),
                "; only the channel axis (axis=-1) is supported");
        channels_ = s[s.rank() - 1];
        require(channels_ >= 1, this->where(), ": expects at least one channel, got ", s.to_keras_string());
        fused_ = s.rank() == 3 || s.rank() == 4;  // input rank 4 or 5 with the batch axis: Keras' fused kernel
        const Shape p{channels_};
        gamma_ = Weight<T>{"gamma", Tensor<T>(p), Tensor<T>(p), true, {}};
        beta_ = Weight<T>{"beta", Tensor<T>(p), Tensor<T>(p), true, {}};
        moving_mean_ = Weight<T>{"moving_mean", Tensor<T>(p), Tensor<T>(), false, {}};
        moving_variance_ = Weight<T>{"moving_variance", Tensor<T>(p), Tensor<T>(), false, {}};
        if (options_.scale) options_.gamma_initializer(gamma_.value, this->rng());
        if (options_.center) options_.beta_initializer(beta_.value, this->rng());
        options_.moving_mean_initializer(moving_mean_.value, this->rng());
        options_.moving_variance_initializer(moving_variance_.value, this->rng());
        xhat_ = Tensor<T>();
        return s;
    }

private:
    [[nodiscard]] T gamma_at(index_t c) const { return options_.scale ? gamma_.value[c] : T(1); }

    // Mean and biased variance of each column of the row-major (m, C) matrix x, accumulated in double.
    // Two passes (mean first) avoid the cancellation of E[x^2] - E[x]^2.
    void batch_moments(const T* x, index_t m, std::vector<double>& mean, std::vector<double>& var) const {
        std::vector<double> unused;
        column_sums_impl(x, nullptr, nullptr, m, mean, unused);
        for (auto& v : mean) v /= double(m);
        column_sums_impl(x, mean.data(), nullptr, m, var, unused);
        for (auto& v : var) v /= double(m);
    }
    // sum_dy[c] = sum_r dy[r, c];  sum_dy_xhat[c] = sum_r dy[r, c] * xhat[r, c]
    void column_sums(const T* dy, const T* xhat, index_t m, std::vector<double>& sum_dy,
                     std::vector<double>& sum_dy_xhat) const {
        column_sums_impl(dy, nullptr, xhat, m, sum_dy, sum_dy_xhat);
    }
    // With center: out1[c] = sum (a - center[c])^2. Otherwise out1[c] = sum a; with b also out2[c] = sum a * b.
    // Threads sum row blocks into private partials that are added in a fixed order (deterministic per thread
    // count).
    void column_sums_impl(const T* a, const double* center, const T* b, index_t m, std::vector<double>& out1,
                          std::vector<double>& out2) const {
        const index_t C = channels_;
        const int threads = m * C >= (1 << 15) ? num_threads() : 1;
        std::vector<double> part(static_cast<std::size_t>(threads * 2 * C), 0.0);
#pragma omp parallel num_threads(threads)
        {
            double* p1 = part.data() + thread_index() * 2 * C;
            double* p2 = p1 + C;
            // One loop per case, so no branch sits inside the row loop and the channel loop vectorises.
            if (center) {
#pragma omp for schedule(static)
                for (index_t r = 0; r < m; ++r) {
                    const T* ar = a + r * C;
#pragma omp simd
                    for (index_t c = 0; c < C; ++c) {
                        const double d = double(ar[c]) - center[c];
                        p1[c] += d * d;
                    }
                }
            } else if (b) {
#pragma omp for schedule(static)
                for (index_t r = 0; r < m; ++r) {
                    const T* ar = a + r * C;
                    const T* br = b + r * C;
#pragma omp simd
                    for (index_t c = 0; c < C; ++c) {
                        p1[c] += double(ar[c]);
                        p2[c] += double(ar[c]) * double(br[c]);
                    }
                }
            } else {
#pragma omp for schedule(static)
                for (index_t r = 0; r < m; ++r) {
                    const T* ar = a + r * C;
#pragma omp simd
                    for (index_t c = 0; c < C; ++c) p1[c] += double(ar[c]);
                }
            }
        }
        out1.assign(static_cast<std::size_t>(C), 0.0);
        out2.assign(static_cast<std::size_t>(C), 0.0);
        for (int t = 0; t < threads; ++t)
            for (index_t c = 0; c < C; ++c) {
                out1[c] += part[static_cast<std::size_t>(t * 2 * C + c)];
                out2[c] += part[static_cast<std::size_t>(t * 2 * C + C + c)];
            }
    }

    static std::string number(double v) {
        std::ostringstream s;
        s.precision(17);
        s << v;
        return s.str();
    }

    BatchNormalizationOptions options_;
    index_t channels_ = 0;
    bool fused_ = false;
    bool batch_mode_ = false;  // the last forward used batch statistics
    Weight<T> gamma_, beta_, moving_mean_, moving_variance_;
    Tensor<T> xhat_;           // the last forward's normalised input, (N, ..., C)
    std::vector<T> inv_std_;   // 1 / sqrt(var + eps) of the last forward, (C,)
};

}  // namespace lumen::layers
