// Dropout: inverted dropout, Keras' layers.Dropout.
//
//   layers::Dropout(0.2)
//
// Training: each unit is kept with probability 1 - rate and scaled by 1/(1 - rate), so the expected output
// equals the input and inference needs no rescaling:  y = x * m,  m_i = keep_i / (1 - rate),  dx = dy * m.
// Inference (and rate == 0): identity.
// Masks come from the layer's own random stream, seeded at build: the same seed gives the same masks, whatever
// the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/random.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
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
        // The units are cut into chunks of kChunk; chunk k draws from its own stream, derive_seed(s, k) of one
        // draw s of the layer's stream, so chunks run on any thread and masks do not depend on the thread count.
        // Each 64-bit draw decides two units: unit i is kept when its 32-bit half is below keep * 2^32 (the odd
        // last unit of a chunk takes the low half of a draw of its own).
        mask_.resize_uninitialized(x.shape());  // every element is written below
        Tensor<T> y(x.shape(), uninitialized);
        const double keep = 1.0 - rate_;
        const T scale = static_cast<T>(1.0 / keep);
        const auto threshold = static_cast<std::uint64_t>(keep * 0x1p32);
        const std::uint64_t seed = this->rng()();
        const T* xs = x.data();
        T* ms = mask_.data();
        T* ys = y.data();
        const index_t n = x.size(), chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (chunks > 1)
        for (index_t k = 0; k < chunks; ++k) {
            Generator g(derive_seed(seed, static_cast<std::uint64_t>(k)));
            // Draws first, 2 * kBlock units at a time, then masks without a branch (a branch on a random bit is
            // mispredicted half the time): unit i reads half i of the draws, the low half of a draw first.
            constexpr index_t kBlock = 128;
            std::uint32_t halves[2 * kBlock];
            for (index_t b0 = k * kChunk, end = std::min(n, (k + 1) * kChunk); b0 < end; b0 += 2 * kBlock) {
                const index_t units = std::min(2 * kBlock, end - b0);
                for (index_t j = 0; j < (units + 1) / 2; ++j) {
                    const std::uint64_t r = g();
                    halves[2 * j] = static_cast<std::uint32_t>(r);
                    halves[2 * j + 1] = static_cast<std::uint32_t>(r >> 32);
                }
#pragma omp simd
                for (index_t j = 0; j < units; ++j) {
                    const T m = halves[j] < threshold ? scale : T(0);
                    ms[b0 + j] = m;
                    ys[b0 + j] = xs[b0 + j] * m;
                }
            }
        }
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

    static constexpr index_t kChunk = 16384;  // units per random stream (even)

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
