// Keras' learning-rate schedules (keras.optimizers.schedules), evaluated at the 0-based iteration count
// `step` of the step about to run (the first step uses step 0):
//   ExponentialDecay:       lr = initial * decay_rate^(step / decay_steps)   (staircase: floor of the ratio)
//   PiecewiseConstantDecay: values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <=
//                           boundaries[i], values.back() after the last boundary
//   CosineDecay:            s = min(step, decay_steps); lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi s /
//                           decay_steps)) + alpha). With warmup_steps > 0 and a warmup_target (Keras >= 2.13):
//                           linear from initial to warmup_target over warmup_steps, then the cosine decays
//                           from warmup_target over the following decay_steps.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lumen/optimizers/optimizer.hpp"

namespace lumen::optimizers::schedules {

template <class T = float>
class ExponentialDecay : public LearningRateSchedule<T> {
public:
    ExponentialDecay(double initial_learning_rate, std::int64_t decay_steps, double decay_rate, bool staircase = false)
        : initial_(initial_learning_rate), decay_steps_(decay_steps), decay_rate_(decay_rate), staircase_(staircase) {
        require(initial_ >= 0, "ExponentialDecay: initial_learning_rate must be >= 0, got ", initial_);
        require(decay_steps_ > 0, "ExponentialDecay: decay_steps must be > 0, got ", decay_steps_);
        require(decay_rate_ > 0, "ExponentialDecay: decay_rate must be > 0, got ", decay_rate_);
    }
    [[nodiscard]] double operator()(std::int64_t step) const override {
        double p = double(step) / double(decay_steps_);
        if (staircase_) p = std::floor(p);
        return initial_ * std::pow(decay_rate_, p);
    }
    [[nodiscard]] std::string name() const override { return "ExponentialDecay"; }
    [[nodiscard]] Config get_config() const override {
        return {{"initial_learning_rate", number_text(initial_)},
                {"decay_steps", std::to_string(decay_steps_)},
                {"decay_rate", number_text(decay_rate_)},
                {"staircase", staircase_ ? "True" : "False"}};
    }

private:
    double initial_;
    std::int64_t decay_steps_;
    double decay_rate_;
    bool staircase_;
};

template <class T = float>
class PiecewiseConstantDecay : public LearningRateSchedule<T> {
public:
    PiecewiseConstantDecay(std::vector<std::int64_t> boundaries, std::vector<double> values)
        : boundaries_(std::move(boundaries)), values_(std::move(values)) {
        require(values_.size() == boundaries_.size() + 1, "PiecewiseConstantDecay: needs one more value than ",
                "boundaries; got ", boundaries_.size(), " boundaries and ", values_.size(), " values");
        for (std::size_t i = 1; i < boundaries_.size(); ++i)
            require(boundaries_[i - 1] < boundaries_[i], "PiecewiseConstantDecay: boundaries must increase, got ",
                    boundaries_[i - 1], " then ", boundaries_[i]);
    }
    [[nodiscard]] double operator()(std::int64_t step) const override {
        // The first boundary >= step picks the value before it; past every boundary, the last value.
        const auto it = std::lower_bound(boundaries_.begin(), boundaries_.end(), step);
        return values_[static_cast<std::size_t>(it - boundaries_.begin())];
    }
    [[nodiscard]] std::string name() const override { return "PiecewiseConstantDecay"; }
    [[nodiscard]] Config get_config() const override {
        std::ostringstream b, v;
        for (std::size_t i = 0; i < boundaries_.size(); ++i) b << (i ? "," : "") << boundaries_[i];
        for (std::size_t i = 0; i < values_.size(); ++i) v << (i ? "," : "") << number_text(values_[i]);
        return {{"boundaries", b.str()}, {"values", v.str()}};
    }

private:
    std::vector<std::int64_t> boundaries_;
    std::vector<double> values_;
};

template <class T = float>
class CosineDecay : public LearningRateSchedule<T> {
public:
    CosineDecay(double initial_learning_rate, std::int64_t decay_steps, double alpha = 0,
                std::optional<double> warmup_target = std::nullopt, std::int64_t warmup_steps = 0)
        : initial_(initial_learning_rate),
          decay_steps_(decay_steps),
          alpha_(alpha),
          warmup_target_(warmup_target),
          warmup_steps_(warmup_steps) {
        require(initial_ >= 0, "CosineDecay: initial_learning_rate must be >= 0, got ", initial_);
        require(decay_steps_ > 0, "CosineDecay: decay_steps must be > 0, got ", decay_steps_);
        require(alpha_ >= 0 && alpha_ <= 1, "CosineDecay: alpha must be in [0, 1], got ", alpha_);
        require(warmup_steps_ >= 0, "CosineDecay: warmup_steps must be >= 0, got ", warmup_steps_);
        require(!warmup_target_ || *warmup_target_ >= 0, "CosineDecay: warmup_target must be >= 0, got ",
                warmup_target_.value_or(0));
    }
    [[nodiscard]] double operator()(std::int64_t step) const override {
        if (!warmup_target_) return decay(std::min(step, decay_steps_), initial_);
        step = std::min(step, decay_steps_ + warmup_steps_);
        if (step < warmup_steps_) return initial_ + (*warmup_target_ - initial_) * double(step) / double(warmup_steps_);
        return decay(step - warmup_steps_, *warmup_target_);
    }
    [[nodiscard]] std::string name() const override { return "CosineDecay"; }
    [[nodiscard]] Config get_config() const override {
        Config c{{"initial_learning_rate", number_text(initial_)},
                 {"decay_steps", std::to_string(decay_steps_)},
                 {"alpha", number_text(alpha_)}};
        if (warmup_target_) {
            c.emplace_back("warmup_target", number_text(*warmup_target_));
            c.emplace_back("warmup_steps", std::to_string(warmup_steps_));
        }
        return c;
    }

private:
    [[nodiscard]] double decay(std::int64_t step, double from) const {
        const double cosine = 0.5 * (1 + std::cos(std::numbers::pi * double(step) / double(decay_steps_)));
        return from * ((1 - alpha_) * cosine + alpha_);
    }

    double initial_;
    std::int64_t decay_steps_;
    double alpha_;
    std::optional<double> warmup_target_;
    std::int64_t warmup_steps_;
};

// Rebuilds a schedule from name() and get_config() (keys without the "learning_rate." prefix).
template <class T = float>
inline std::shared_ptr<LearningRateSchedule<T>> from_config(const std::string& name, const Config& config) {
    auto text = [&](const std::string& key) -> const std::string& { return config_value(config, key, name); };
    auto split = [](const std::string& s) {
        std::vector<std::string> parts;
        std::stringstream in(s);
        for (std::string p; std::getline(in, p, ',');) parts.push_back(p);
        return parts;
    };
    if (name == "ExponentialDecay")
        return std::make_shared<ExponentialDecay<T>>(std::stod(text("initial_learning_rate")),
                                                     std::stoll(text("decay_steps")), std::stod(text("decay_rate")),
                                                     text("staircase") == "True");
    if (name == "PiecewiseConstantDecay") {
        std::vector<std::int64_t> b;
        std::vector<double> v;
        for (const auto& p : split(text("boundaries"))) b.push_back(std::stoll(p));
        for (const auto& p : split(text("values"))) v.push_back(std::stod(p));
        return std::make_shared<PiecewiseConstantDecay<T>>(std::move(b), std::move(v));
    }
    if (name == "CosineDecay") {
        const bool warmup =
            std::any_of(config.begin(), config.end(), [](const auto& kv) { return kv.first == "warmup_target"; });
        return std::make_shared<CosineDecay<T>>(
            std::stod(text("initial_learning_rate")), std::stoll(text("decay_steps")), std::stod(text("alpha")),
            warmup ? std::optional<double>(std::stod(text("warmup_target"))) : std::nullopt,
            warmup ? std::stoll(text("warmup_steps")) : 0);
    }
    fail("schedules::from_config: unknown schedule \"", name,
         "\"; expected ExponentialDecay, PiecewiseConstantDecay or CosineDecay");
}

}  // namespace lumen::optimizers::schedules
