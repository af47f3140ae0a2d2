// Dropout: inverted dropout, Keras' layers.Dropout.
//
//   layers::Dropout(0.2)
//
// Training: each unit is kept with probability 1 - rate and scaled by 1/(1 - rate), so the expected output
// equals the input and inference needs no rescaling:  y = x * m,  m_i = keep_i / (1 - rate),  dx = dy * m.
// Inference (and rate == 0): identity.
// Masks come from the layer's own random stream, seeded at build: the same seed gives the same masks.
#pragma once

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

struct DropoutOptions {
    std::string name = {};
};

template <class T = float>
class Dropout : public Layer<T> {
public:
    explicit Dropout(double rate, DropoutOptions options = {}) : rate_(rate) {
        this->set_name(options.name);
        require(rate_ >= 0 && rate_ < 1, this->where(), ": rate must be in [0, 1), got ", rate_);
    }

    [[nodiscard]] std::string class_name() const override { return "Dropout"; }
    [[nodiscard]] double rate() const { return rate_; }
    // The last training forward's multipliers (0 or 1/(1 - rate)), empty after an identity forward.
    [[nodiscard]] const Tensor<T>& mask() const { return mask_; }

    // x: (N, ...) -> y: (N, ...)
    Tensor<T> forward(const Tensor<T>& x, bool training) override {
        this->check_input(x);
        batch_ = x.dim(0);
        if (!training || rate_ == 0) {
            mask_ = Tensor<T>();
            return x;
        }
        // Draws are sequential on the layer's one stream, so masks do not depend on the thread count. Each 64-bit
        // draw decides two units: unit i is kept when its 32-bit half is below keep * 2^32 (keep = 1 keeps all).
        mask_.resize_uninitialized(x.shape());  // every element is written below
        Tensor<T> y(x.shape(), uninitialized);
        const double keep = 1.0 - rate_;
        const T scale = static_cast<T>(1.0 / keep);
        const auto threshold = static_cast<std::uint64_t>(keep * 0x1p32);
        Generator g = this->rng();  // a local copy keeps the state in registers; written back below
        const T* xs = x.data();
        T* ms = mask_.data();
        T* ys = y.data();
        const index_t n = x.size();
        index_t i = 0;
        for (; i + 1 < n; i += 2) {
            const std::uint64_t r = g();
            const T m0 = (r & 0xffffffffu) < threshold ? scale : T(0);
            const T m1 = (r >> 32) < threshold ? scale : T(0);
            ms[i] = m0;
            ms[i + 1] = m1;
            ys[i] = xs[i] * m0;
            ys[i + 1] = xs[i + 1] * m1;
        }
        if (i < n) {
            ms[i] = (g() & 0xffffffffu) < threshold ? scale : T(0);
            ys[i] = xs[i] * ms[i];
        }
        this->rng() = g;
        return y;
    }

    // dy: (N, ...) -> dx = dy * mask (identity at inference)
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(batch_ >= 0, this->where(), ": backward() called before forward()");
        this->check_grad(dy, batch_);
        if (mask_.empty()) return dy;
        Tensor<T> dx(dy.shape());
        dx.array() = dy.array() * mask_.array();
        return dx;
    }

    [[nodiscard]] Config get_config() const override {
        std::ostringstream r;
        r.precision(17);
        r << rate_;
        return {{"name", this->name()}, {"rate", r.str()}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        std::istringstream in(config_value(c, "rate", "Dropout"));
        double rate = -1;
        require(static_cast<bool>(in >> rate), "Dropout: cannot read rate \"", config_value(c, "rate", "Dropout"),
                "\"");
        return std::make_shared<Dropout<T>>(rate, DropoutOptions{.name = config_value(c, "name", "Dropout")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        batch_ = -1;
        mask_ = Tensor<T>();
        return s;
    }

private:
    double rate_;
    index_t batch_ = -1;
    Tensor<T> mask_;
};

}  // namespace lumen::layers
