// keras.optimizers.Adam (Keras 3 / tf.keras >= 2.11), per weight with slots m ("momentum"), v ("velocity")
// and, with amsgrad, v_hat ("velocity_hat"), all starting at 0; t = iterations + 1:
//   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//   m += (g - m) * (1 - beta_1);   v += (g^2 - v) * (1 - beta_2)
//   amsgrad: v_hat = max(v_hat, v), used instead of v below
//   w -= alpha * m / (sqrt(v) + epsilon)
// Epsilon is added to sqrt(v), not to the bias-corrected sqrt(v_hat): Keras' "epsilon hat" form, which
// differs from PyTorch's w -= lr * m_hat / (sqrt(v_hat) + eps) when gradients are tiny.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "lumen/optimizers/optimizer.hpp"

namespace lumen::optimizers {

template <class T = float>
struct AdamOptions {
    LearningRate<T> learning_rate = 0.001;
    double beta_1 = 0.9;
    double beta_2 = 0.999;
    double epsilon = 1e-7;
    bool amsgrad = false;
    double weight_decay = 0;
    double clipnorm = 0;
    double clipvalue = 0;
    double global_clipnorm = 0;
};

template <class T = float>
class Adam : public BaseOptimizer<T> {
public:
    explicit Adam(AdamOptions<T> o = {}) : Adam("Adam", o) {}

    [[nodiscard]] std::string name() const override { return who_; }
    [[nodiscard]] std::vector<std::string> slot_names() const override {
        if (amsgrad_) return {"momentum", "velocity", "velocity_hat"};
        return {"momentum", "velocity"};
    }
    [[nodiscard]] double beta_1() const { return beta_1_; }
    [[nodiscard]] double beta_2() const { return beta_2_; }
    [[nodiscard]] double epsilon() const { return epsilon_; }
    [[nodiscard]] bool amsgrad() const { return amsgrad_; }

protected:
    // For AdamW, which is Adam with another name and default weight_decay.
    Adam(const std::string& who, const AdamOptions<T>& o)
        : BaseOptimizer<T>(who, {o.learning_rate, o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}),
          who_(who),
          beta_1_(o.beta_1),
          beta_2_(o.beta_2),
          epsilon_(o.epsilon),
          amsgrad_(o.amsgrad) {
        require(beta_1_ >= 0 && beta_1_ < 1, who, ": beta_1 must be in [0, 1), got ", beta_1_);
        require(beta_2_ >= 0 && beta_2_ < 1, who, ": beta_2 must be in [0, 1), got ", beta_2_);
        require(epsilon_ >= 0, who, ": epsilon must be >= 0, got ", epsilon_);
    }

    void update_step(std::vector<Tensor<T>>& slots, Tensor<T>& w, const Tensor<T>& g, double lr) override {
        const double t = double(this->iterations() + 1);
        const T alpha = static_cast<T>(lr * std::sqrt(1 - std::pow(beta_2_, t)) / (1 - std::pow(beta_1_, t)));
        const T one_minus_b1 = static_cast<T>(1 - beta_1_);
        const T one_minus_b2 = static_cast<T>(1 - beta_2_);
        const T eps = static_cast<T>(epsilon_);
        auto m = slots[0].array();
        auto v = slots[1].array();
        const auto gr = g.array();
        m += (gr - m) * one_minus_b1;
        v += (gr.square() - v) * one_minus_b2;
        if (amsgrad_) {
            auto v_hat = slots[2].array();
            v_hat = v_hat.max(v);
            w.array() -= alpha * m / (v_hat.sqrt() + eps);
        } else {
            w.array() -= alpha * m / (v.sqrt() + eps);
        }
    }
    [[nodiscard]] Config own_config() const override {
        return {{"beta_1", number_text(beta_1_)},
                {"beta_2", number_text(beta_2_)},
                {"epsilon", number_text(epsilon_)},
                {"amsgrad", amsgrad_ ? "True" : "False"}};
    }

private:
    std::string who_;
    double beta_1_, beta_2_, epsilon_;
    bool amsgrad_;
};

}  // namespace lumen::optimizers
