// KerasIterator — the batching, shuffling and seeding rules of Keras' Iterator (spec §2.5), shared by
// DirectoryIterator (flow_from_directory) and NumpyArrayIterator (flow).
//
// Keras, used as a Sequence by fit(): before batch idx it calls np.random.seed(seed + total_batches_seen); the
// permutation of epoch 0 is drawn lazily inside the first batch (before its augmentations), and the permutation
// of every later epoch is drawn in on_epoch_end() from whatever state the last batch left. lumen reproduces this
// exactly for batches requested in order (total_batches_seen = epoch * len + idx), but computes every batch
// from (seed, epoch, idx) alone by replaying the previous epoch's last batch draws, so batches can be built
// ahead in worker threads with results independent of timing and thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/data/Prefetcher.hpp"
#include "lumen/data/dataset.hpp"
#include "lumen/data/numpy_random.hpp"

namespace lumen::data {

template <class T>
class ImageDataGenerator;

template <class T = float>
class KerasIterator : public Dataset<T> {
public:
    [[nodiscard]] index_t num_batches() const override { return (n_ + batch_size_ - 1) / batch_size_; }
    [[nodiscard]] index_t num_samples() const override { return n_; }
    [[nodiscard]] index_t batch_size() const { return batch_size_; }
    [[nodiscard]] index_t epoch() const { return state_->epoch; }
    Batch<T> batch(index_t i) override {
        require(i >= 0 && i < num_batches(), "batch index ", i, " out of range [0, ", num_batches(), ")");
        return state_->prefetcher->get(state_->epoch, i, num_batches());
    }
    void on_epoch_end() override {
        state_->prefetcher->drain();
        ++state_->epoch;
    }
    // The sample order of an epoch (Keras' index_array).
    std::vector<index_t> index_array(index_t epoch) {
        std::lock_guard lock(state_->mutex);
        auto it = state_->orders.find(epoch);
        if (it != state_->orders.end()) return it->second;
        std::vector<index_t> order(static_cast<std::size_t>(n_));
        std::iota(order.begin(), order.end(), index_t{0});
        if (shuffle_) {
            if (epoch == 0) {
                NumpyRandomState rng(seed_);
                order = rng.permutation(n_);
            } else {
                NumpyRandomState rng = replay_batch(epoch - 1, num_batches() - 1);
                order = rng.permutation(n_);
            }
        }
        state_->orders.emplace(epoch, order);
        if (state_->orders.size() > 4) state_->orders.erase(state_->orders.begin());
        return order;
    }

protected:
    // n samples of shape (height, width, channels); workers < 0 means lumen::num_threads().
    KerasIterator(index_t n, index_t batch_size, bool shuffle, std::optional<std::uint32_t> seed,
                  std::shared_ptr<const ImageDataGenerator<T>> generator, Shape sample_shape, int workers)
        : n_(n), batch_size_(batch_size), shuffle_(shuffle), seed_(seed.value_or(detail::random_seed())),
          generator_(std::move(generator)), sample_shape_(std::move(sample_shape)),
          state_(std::make_shared<State>()) {
        require(batch_size > 0, "batch_size must be > 0, got ", batch_size);
        const int w = workers < 0 ? num_threads() : workers;
        // The prefetcher calls back into this object, which is neither copyable nor movable, so `this` stays
        // valid; derived classes call stop_workers() first thing in their destructor.
        state_->prefetcher = std::make_shared<Prefetcher<Batch<T>>>(
            [this](index_t e, index_t i) { return make_batch(e, i); }, w, std::max(1, w));
    }
    KerasIterator(const KerasIterator&) = delete;
    KerasIterator& operator=(const KerasIterator&) = delete;
    KerasIterator(KerasIterator&& other) = delete;
    ~KerasIterator() override { stop_workers(); }
    // Waits for batches in flight; derived destructors call it before their members go away.
    void stop_workers() {
        if (state_ && state_->prefetcher) state_->prefetcher->drain();
    }

    // Sample j of the data, before augmentation: (H, W, C), values 0..255 for images.
    virtual Tensor<T> load(index_t j) = 0;
    // The targets of a batch holding samples idx (x is the transformed batch, for class_mode "input").
    virtual Tensor<T> targets(const std::vector<index_t>& idx, const Tensor<T>& x) = 0;

    [[nodiscard]] const ImageDataGenerator<T>& generator() const { return *generator_; }

private:
    // The numpy state after batch (epoch, i) drew its random numbers.
    NumpyRandomState replay_batch(index_t epoch, index_t i) const {
        NumpyRandomState rng(static_cast<std::uint32_t>(seed_ + std::uint64_t(epoch * num_batches() + i)));
        if (shuffle_ && epoch == 0 && i == 0) rng.permutation(n_);
        const index_t count = std::min(batch_size_, n_ - i * batch_size_);
        for (index_t k = 0; k < count; ++k) generator_->get_random_transform(sample_shape_[0], sample_shape_[1], rng);
        return rng;
    }

    Batch<T> make_batch(index_t epoch, index_t i) {
        const std::vector<index_t> order = index_array(epoch);
        NumpyRandomState rng(static_cast<std::uint32_t>(seed_ + std::uint64_t(epoch * num_batches() + i)));
        if (shuffle_ && epoch == 0 && i == 0) rng.permutation(n_);
        const index_t begin = i * batch_size_, end = std::min(n_, begin + batch_size_);
        std::vector<index_t> idx(order.begin() + begin, order.begin() + end);
        Batch<T> b;
        b.x = Tensor<T>(sample_shape_.with_batch(end - begin));
        const index_t per = sample_shape_.size();
        for (std::size_t k = 0; k < idx.size(); ++k) {
            Tensor<T> x = load(idx[k]);
            const auto p = generator_->get_random_transform(x.dim(0), x.dim(1), rng);
            x = generator_->standardize(generator_->apply_transform(std::move(x), p));
            std::copy_n(x.data(), per, b.x.data() + index_t(k) * per);
        }
        b.y = targets(idx, b.x);
        return b;
    }

    struct State {
        index_t epoch = 0;
        std::mutex mutex;
        std::map<index_t, std::vector<index_t>> orders;
        std::shared_ptr<Prefetcher<Batch<T>>> prefetcher;
    };

    index_t n_;
    index_t batch_size_;
    bool shuffle_;
    std::uint32_t seed_;
    std::shared_ptr<const ImageDataGenerator<T>> generator_;
    Shape sample_shape_;
    std::shared_ptr<State> state_;
};

}  // namespace lumen::data
