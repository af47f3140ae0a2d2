// lumen::optimizers::Optimizer<T> — what every optimizer is.
//
// One apply_gradients() call is one training step (Keras' `iterations` advances by one per batch):
//   1. t = iterations + 1; lr = learning_rate(iterations) (a constant or a schedule);
//   2. per weight: clipvalue, then clipnorm (each gradient by its own norm, as Keras' clipnorm does);
//   3. decoupled weight decay if weight_decay > 0: w -= lr * weight_decay * w (Keras >= 2.11 semantics);
//   4. update(i, w, g, lr, t): the optimizer's own formula, with its slots for weight i.
// Slots are created on the first call, in the order of the weights given; their state can be saved and
// restored (get_state / set_state), so training resumed from a checkpoint continues exactly.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::optimizers {

// A learning-rate schedule: iteration (0-based step count) -> learning rate.
template <class T = float>
class LearningRateSchedule {
public:
    virtual ~LearningRateSchedule() = default;
    [[nodiscard]] virtual double operator()(std::int64_t step) const = 0;
    [[nodiscard]] virtual std::string name() const = 0;
};

template <class T = float>
class Optimizer {
public:
    virtual ~Optimizer() = default;
    [[nodiscard]] virtual std::string name() const = 0;   // Keras' class name: "Adam", "SGD", ...

    // One step over the given weights (only trainable ones are passed by the model).
    virtual void apply_gradients(const std::vector<Weight<T>*>& weights) = 0;

    // The learning rate the next step will use.
    [[nodiscard]] virtual double current_learning_rate() const = 0;
    // Sets a constant learning rate (replaces a schedule): used by ReduceLROnPlateau, LearningRateScheduler.
    virtual void set_learning_rate(double lr) = 0;

    [[nodiscard]] std::int64_t iterations() const { return iterations_; }

    // Optimizer state for checkpoints: the iteration count plus every slot tensor, in a fixed order.
    [[nodiscard]] virtual std::vector<Tensor<T>*> slots() = 0;
    void set_iterations(std::int64_t it) { iterations_ = it; }

protected:
    std::int64_t iterations_ = 0;
};

template <class T = float>
using OptimizerPtr = std::shared_ptr<Optimizer<T>>;

}  // namespace lumen::optimizers
