// keras.optimizers.RMSprop (Keras 3 / tf.keras >= 2.11), per weight with slots v ("velocity"), and
// mom ("momentum", if momentum > 0) and mg ("average_gradient", if centered), all starting at 0:
//   v = rho * v + (1 - rho) * g^2
//   den = v + epsilon;  centered: mg = rho * mg + (1 - rho) * g,  den = v - mg^2 + epsilon
//   inc = lr * g / sqrt(den)                      epsilon INSIDE the square root (not PyTorch's form)
//   momentum > 0: mom = momentum * mom + inc, w -= mom;  otherwise w -= inc
#pragma once

#include <string>
#include <vector>

#include "lumen/optimizers/optimizer.hpp"

namespace lumen::optimizers {

template <class T = float>
struct RMSpropOptions {
    LearningRate<T> learning_rate = 0.001;
    double rho = 0.9;
    double momentum = 0;
    double epsilon = 1e-7;
    bool centered = false;
    double weight_decay = 0;
    double clipnorm = 0;
    double clipvalue = 0;
    double global_clipnorm = 0;
};

template <class T = float>
class RMSprop : public BaseOptimizer<T> {
public:
    explicit RMSprop(RMSpropOptions<T> o = {})
        : BaseOptimizer<T>("RMSprop", {o.learning_rate, o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}),
          rho_(o.rho),
          momentum_(o.momentum),
          epsilon_(o.epsilon),
          centered_(o.centered) {
        require(rho_ >= 0 && rho_ < 1, "RMSprop: rho must be in [0, 1), got ", rho_);
        require(momentum_ >= 0 && momentum_ <= 1, "RMSprop: momentum must be in [0, 1], got ", momentum_);
        require(epsilon_ >= 0, "RMSprop: epsilon must be >= 0, got ", epsilon_);
    }

    [[nodiscard]] std::string name() const override { return "RMSprop"; }
    [[nodiscard]] std::vector<std::string> slot_names() const override {
        std::vector<std::string> s{"velocity"};
        if (momentum_ > 0) s.push_back("momentum");
        if (centered_) s.push_back("average_gradient");
        return s;
    }
    [[nodiscard]] double rho() const { return rho_; }
    [[nodiscard]] double momentum() const { return momentum_; }
    [[nodiscard]] double epsilon() const { return epsilon_; }
    [[nodiscard]] bool centered() const { return centered_; }

protected:
    void update_step(std::vector<Tensor<T>>& slots, Tensor<T>& w, const Tensor<T>& g, double lr) override {
        const T rho = static_cast<T>(rho_);
        const T eps = static_cast<T>(epsilon_);
        const T rate = static_cast<T>(lr);
        const auto gr = g.array();
        auto v = slots[0].array();
        v = rho * v + (T(1) - rho) * gr.square();
        std::size_t next = 1;
        auto* mom = momentum_ > 0 ? &slots[next++] : nullptr;
        if (centered_) {
            auto mg = slots[next].array();
            mg = rho * mg + (T(1) - rho) * gr;
            const auto inc = rate * gr / (v - mg.square() + eps).sqrt();
            step(w, mom, inc);
        } else {
            const auto inc = rate * gr / (v + eps).sqrt();
            step(w, mom, inc);
        }
    }
    [[nodiscard]] Config own_config() const override {
        return {{"rho", number_text(rho_)},
                {"momentum", number_text(momentum_)},
                {"epsilon", number_text(epsilon_)},
                {"centered", centered_ ? "True" : "False"}};
    }

private:
    template <class Increment>
    void step(Tensor<T>& w, Tensor<T>* mom, const Increment& inc) const {
        if (mom) {
            auto m = mom->array();
            m = static_cast<T>(momentum_) * m + inc;
            w.array() -= m;
        } else {
            w.array() -= inc;
        }
    }

    double rho_, momentum_, epsilon_;
    bool centered_;
};

}  // namespace lumen::optimizers
