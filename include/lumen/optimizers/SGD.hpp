// keras.optimizers.SGD (Keras 3 / tf.keras >= 2.11), per weight, m the "momentum" slot (starts at 0):
//   momentum == 0:  w -= lr * g
//   otherwise:      m = momentum * m - lr * g;  w += m  (nesterov: w += momentum * m - lr * g)
#pragma once

#include <string>
#include <vector>

#include "lumen/optimizers/optimizer.hpp"

namespace lumen::optimizers {

template <class T = float>
struct SGDOptions {
    LearningRate<T> learning_rate = 0.01;
    double momentum = 0;
    bool nesterov = false;
    double weight_decay = 0;
    double clipnorm = 0;
    double clipvalue = 0;
    double global_clipnorm = 0;
};

template <class T = float>
class SGD : public BaseOptimizer<T> {
public:
    explicit SGD(SGDOptions<T> o = {})
        : BaseOptimizer<T>("SGD", {o.learning_rate, o.weight_decay, o.clipnorm, o.clipvalue, o.global_clipnorm}),
          momentum_(o.momentum),
          nesterov_(o.nesterov) {
        require(momentum_ >= 0 && momentum_ <= 1, "SGD: momentum must be in [0, 1], got ", momentum_);
    }

    [[nodiscard]] std::string name() const override { return "SGD"; }
    [[nodiscard]] std::vector<std::string> slot_names() const override {
        return momentum_ > 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
    }
    [[nodiscard]] double momentum() const { return momentum_; }
    [[nodiscard]] bool nesterov() const { return nesterov_; }

protected:
    void update_step(std::vector<Tensor<T>>& slots, Tensor<T>& w, const Tensor<T>& g, double lr) override {
        const T rate = static_cast<T>(lr);
        if (momentum_ <= 0) {
            w.array() -= rate * g.array();
            return;
        }
        const T mu = static_cast<T>(momentum_);
        auto m = slots[0].array();
        m = mu * m - rate * g.array();
        if (nesterov_)
            w.array() += mu * m - rate * g.array();
        else
            w.array() += m;
    }
    [[nodiscard]] Config own_config() const override {
        return {{"momentum", number_text(momentum_)}, {"nesterov", nesterov_ ? "True" : "False"}};
    }

private:
    double momentum_;
    bool nesterov_;
};

}  // namespace lumen::optimizers
