// lumen::data::Dataset<T> — a source of batches for Sequential::fit / evaluate / predict.
//
// The contract is Keras' Sequence: num_batches() batches per epoch (len()), batch(i) the i-th batch of the
// current epoch (__getitem__), on_epoch_end() to reshuffle. Implementations may prefetch in worker threads,
// but batch(i) must return the same batch for the same seed, epoch and i, whatever the thread count.
#pragma once

#include <vector>

#include "lumen/core/tensor.hpp"

namespace lumen::data {

// One batch: images x (N, H, W, C) and labels y (N, ...) as the loss expects them (may be empty for
// class_mode None / label_mode None).
template <class T = float>
struct Batch {
    Tensor<T> x;
    Tensor<T> y;
};

template <class T = float>
class Dataset {
public:
    virtual ~Dataset() = default;
    // Batches per epoch.
    [[nodiscard]] virtual index_t num_batches() const = 0;
    // Total samples per epoch (the last batch may be short).
    [[nodiscard]] virtual index_t num_samples() const = 0;
    // The i-th batch of the current epoch, 0 <= i < num_batches().
    virtual Batch<T> batch(index_t i) = 0;
    // Called by fit() after each epoch: reshuffle and advance the epoch counter.
    virtual void on_epoch_end() {}
};

}  // namespace lumen::data
