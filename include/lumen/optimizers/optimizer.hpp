// lumen::optimizers::Optimizer<T> — what every optimizer is — and BaseOptimizer<T>, the shared half of the
// built-in ones (Keras 3's BaseOptimizer, tf.keras >= 2.11's optimizer.Optimizer).
//
// One apply_gradients() call is one training step (Keras' `iterations` advances by one per batch):
//   0. build(weights) if needed; then weights without a gradient (empty grad, or not trainable) are skipped;
//      with none left it is a no-op and `iterations` does not advance (as Keras' apply() with no gradients);
//   1. t = iterations + 1; lr = learning_rate(iterations) (a constant or a schedule);
//   2. clipping, at most one of: clipvalue (each element to [-v, v]), clipnorm (each gradient by its own
//      L2 norm), global_clipnorm (all gradients by their joint norm), as Keras 3 allows only one;
//   3. decoupled weight decay if weight_decay > 0: w -= lr * weight_decay * w (Keras >= 2.11 semantics);
//   4. update_step(slots of w, w, g, lr): the optimizer's own formula.
// Slots are created by build() (or on the first step) for every trainable weight, in the order weights are
// first seen, and for each weight in the order of slot_names(); slots() lists them in that fixed order, so a
// checkpoint can restore them (build(weights), then copy into slots(), then set_iterations) before a step.
#pragma once

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::optimizers {

// A number as the shortest text that reads back to the same double (for get_config()).
inline std::string number_text(double v) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

// A learning-rate schedule: iteration (0-based step count) -> learning rate.
template <class T = float>
class LearningRateSchedule {
public:
    using Scalar = T;
    virtual ~LearningRateSchedule() = default;
    [[nodiscard]] virtual double operator()(std::int64_t step) const = 0;
    [[nodiscard]] virtual std::string name() const = 0;
    // Constructor arguments as text (read back by optimizers::schedules::from_config).
    [[nodiscard]] virtual Config get_config() const { return {}; }
};

// Any learning-rate schedule, whatever scalar type it was declared with.
template <class S>
concept AnySchedule = std::derived_from<S, LearningRateSchedule<typename S::Scalar>>;

// Keras' `learning_rate` argument: a constant or a schedule. Implicit from either, so options read
// {.learning_rate = 0.01} or {.learning_rate = schedules::ExponentialDecay(0.1, 1000, 0.96)}. A schedule
// declared for another scalar type (ExponentialDecay<float> given to Adam<double>) is used through a view.
template <class T = float>
class LearningRate {
public:
    LearningRate(double value) : value_(value) {}  // NOLINT: implicit on purpose
    template <AnySchedule S>
    LearningRate(S schedule) : LearningRate(std::make_shared<S>(std::move(schedule))) {}  // NOLINT
    template <AnySchedule S>
    LearningRate(std::shared_ptr<S> schedule) {  // NOLINT
        require(schedule != nullptr, "learning_rate: the schedule is null");
        if constexpr (std::derived_from<S, LearningRateSchedule<T>>)
            schedule_ = std::move(schedule);
        else
            schedule_ = std::make_shared<View<typename S::Scalar>>(std::move(schedule));
    }

    [[nodiscard]] double operator()(std::int64_t step) const { return schedule_ ? (*schedule_)(step) : value_; }
    [[nodiscard]] bool is_schedule() const { return schedule_ != nullptr; }
    [[nodiscard]] const std::shared_ptr<const LearningRateSchedule<T>>& schedule() const { return schedule_; }
    [[nodiscard]] double value() const { return value_; }

private:
    template <class U>
    class View : public LearningRateSchedule<T> {
    public:
        explicit View(std::shared_ptr<const LearningRateSchedule<U>> s) : s_(std::move(s)) {}
        [[nodiscard]] double operator()(std::int64_t step) const override { return (*s_)(step); }
        [[nodiscard]] std::string name() const override { return s_->name(); }
        [[nodiscard]] Config get_config() const override { return s_->get_config(); }

    private:
        std::shared_ptr<const LearningRateSchedule<U>> s_;
    };

    double value_ = 0.001;
    std::shared_ptr<const LearningRateSchedule<T>> schedule_;
};

template <class T = float>
class Optimizer {
public:
    virtual ~Optimizer() = default;
    [[nodiscard]] virtual std::string name() const = 0;  // Keras' class name: "Adam", "SGD", ...

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

    // Creates the (zero) slots of these weights without stepping, so a checkpoint's slots can be restored.
    virtual void build(const std::vector<Weight<T>*>& /*weights*/) {}
    // Per-weight slot names in slots() order, e.g. {"m", "v"} for Adam ("momentum", "velocity" in Keras).
    [[nodiscard]] virtual std::vector<std::string> slot_names() const { return {}; }
    // Constructor arguments as text (read back by optimizers::from_config in optimizers/get.hpp).
    [[nodiscard]] virtual Config get_config() const { return {}; }

protected:
    std::int64_t iterations_ = 0;
};

template <class T = float>
using OptimizerPtr = std::shared_ptr<Optimizer<T>>;

// The arguments every Keras optimizer takes; each optimizer's options struct repeats them (designated
// initialisers cannot reach into a base struct) and hands them over as this.
template <class T = float>
struct CommonOptions {
    LearningRate<T> learning_rate = 0.001;
    double weight_decay = 0;     // 0 = none (Keras' None)
    double clipnorm = 0;         // 0 = none
    double clipvalue = 0;        // 0 = none
    double global_clipnorm = 0;  // 0 = none
};

template <class T = float>
class BaseOptimizer : public Optimizer<T> {
public:
    void apply_gradients(const std::vector<Weight<T>*>& weights) override {
        build(weights);  // slots for every trainable weight, whether or not it has a gradient this time
        std::vector<Weight<T>*> active;
        for (Weight<T>* w : weights)
            if (w != nullptr && w->trainable && !w->grad.empty()) active.push_back(w);
        if (active.empty()) return;
        for (Weight<T>* w : active)
            if (w->grad.shape() != w->value.shape())
                fail(this->name(), ": weight \"", w->name, "\" has value ", w->value.shape().to_string(),
                     " but gradient ", w->grad.shape().to_string());

        const double lr = current_learning_rate();
        std::vector<Tensor<T>> clipped = clip(active);
        for (std::size_t k = 0; k < active.size(); ++k) {
            Weight<T>* w = active[k];
            const Tensor<T>& g = clipped.empty() ? w->grad : clipped[k];
            if (common_.weight_decay > 0) w->value.array() *= static_cast<T>(1.0 - lr * common_.weight_decay);
            update_step(slots_[index_.at(w)], w->value, g, lr);
        }
        ++this->iterations_;
    }

    [[nodiscard]] double current_learning_rate() const override { return common_.learning_rate(this->iterations_); }
    void set_learning_rate(double lr) override {
        require(std::isfinite(lr) && lr >= 0, this->name(), ": learning_rate must be >= 0, got ", lr);
        common_.learning_rate = lr;
    }
    [[nodiscard]] const LearningRate<T>& learning_rate() const { return common_.learning_rate; }
    [[nodiscard]] double weight_decay() const { return common_.weight_decay; }
    [[nodiscard]] double clipnorm() const { return common_.clipnorm; }
    [[nodiscard]] double clipvalue() const { return common_.clipvalue; }
    [[nodiscard]] double global_clipnorm() const { return common_.global_clipnorm; }

    void build(const std::vector<Weight<T>*>& weights) override {
        for (Weight<T>* w : weights) {
            if (w == nullptr || !w->trainable) continue;
            auto it = index_.find(w);
            if (it != index_.end()) {
                const auto& known = slots_[it->second];
                if (!known.empty() && known[0].shape() != w->value.shape())
                    fail(this->name(), ": weight \"", w->name, "\" changed shape from ", known[0].shape().to_string(),
                         " to ", w->value.shape().to_string(), "; create a new optimizer for a new model");
                continue;
            }
            index_[w] = slots_.size();
            std::vector<Tensor<T>> s;
            for (std::size_t i = 0; i < this->slot_names().size(); ++i) s.emplace_back(w->value.shape());
            slots_.push_back(std::move(s));
        }
    }

    [[nodiscard]] std::vector<Tensor<T>*> slots() override {
        std::vector<Tensor<T>*> out;
        for (auto& per_weight : slots_)
            for (auto& s : per_weight) out.push_back(&s);
        return out;
    }

    [[nodiscard]] Config get_config() const override {
        Config c;
        if (common_.learning_rate.is_schedule()) {
            c.emplace_back("learning_rate", common_.learning_rate.schedule()->name());
            for (const auto& [k, v] : common_.learning_rate.schedule()->get_config())
                c.emplace_back("learning_rate." + k, v);
        } else {
            c.emplace_back("learning_rate", number_text(common_.learning_rate.value()));
        }
        c.emplace_back("weight_decay", number_text(common_.weight_decay));
        c.emplace_back("clipnorm", number_text(common_.clipnorm));
        c.emplace_back("clipvalue", number_text(common_.clipvalue));
        c.emplace_back("global_clipnorm", number_text(common_.global_clipnorm));
        for (auto& kv : own_config()) c.push_back(std::move(kv));
        return c;
    }

protected:
    // Validates the shared arguments; `who` is the Keras class name for messages.
    BaseOptimizer(const std::string& who, CommonOptions<T> common) : common_(std::move(common)) {
        if (!common_.learning_rate.is_schedule())
            require(std::isfinite(common_.learning_rate.value()) && common_.learning_rate.value() >= 0, who,
                    ": learning_rate must be >= 0, got ", common_.learning_rate.value());
        require(common_.weight_decay >= 0, who, ": weight_decay must be >= 0, got ", common_.weight_decay);
        require(common_.clipnorm >= 0, who, ": clipnorm must be > 0 (or 0 for none), got ", common_.clipnorm);
        require(common_.clipvalue >= 0, who, ": clipvalue must be > 0 (or 0 for none), got ", common_.clipvalue);
        require(common_.global_clipnorm >= 0, who, ": global_clipnorm must be > 0 (or 0 for none), got ",
                common_.global_clipnorm);
        require((common_.clipnorm > 0) + (common_.clipvalue > 0) + (common_.global_clipnorm > 0) <= 1, who,
                ": only one of clipnorm, clipvalue and global_clipnorm can be set; got clipnorm=", common_.clipnorm,
                ", clipvalue=", common_.clipvalue, ", global_clipnorm=", common_.global_clipnorm);
    }

    // The optimizer's formula for one weight: `slots` (in slot_names() order), value w, gradient g, rate lr.
    // t = iterations() + 1 is the 1-based step number.
    virtual void update_step(std::vector<Tensor<T>>& slots, Tensor<T>& w, const Tensor<T>& g, double lr) = 0;
    // The optimizer's own arguments for get_config().
    [[nodiscard]] virtual Config own_config() const = 0;

private:
    // Clipped copies of the gradients, or nothing when no clipping is configured (then grads are used as is).
    std::vector<Tensor<T>> clip(const std::vector<Weight<T>*>& active) const {
        std::vector<Tensor<T>> out;
        if (common_.clipvalue <= 0 && common_.clipnorm <= 0 && common_.global_clipnorm <= 0) return out;
        for (Weight<T>* w : active) out.push_back(w->grad);
        auto norm_of = [](const Tensor<T>& g) {
            double s = 0;
            for (const T v : g) s += double(v) * double(v);
            return s;
        };
        if (common_.clipvalue > 0) {
            const T v = static_cast<T>(common_.clipvalue);
            for (auto& g : out) g.array() = g.array().max(-v).min(v);
        } else if (common_.clipnorm > 0) {
            // g * clipnorm / max(||g||, clipnorm): unchanged when already inside the ball.
            for (auto& g : out) {
                const double n = std::sqrt(norm_of(g));
                if (n > common_.clipnorm) g.array() *= static_cast<T>(common_.clipnorm / n);
            }
        } else {
            double total = 0;
            for (const auto& g : out) total += norm_of(g);
            const double n = std::sqrt(total);
            if (n > common_.global_clipnorm)
                for (auto& g : out) g.array() *= static_cast<T>(common_.global_clipnorm / n);
        }
        return out;
    }

    CommonOptions<T> common_;
    std::map<const Weight<T>*, std::size_t> index_;  // weight -> its slot set, in order of first sight
    std::vector<std::vector<Tensor<T>>> slots_;
};

}  // namespace lumen::optimizers
