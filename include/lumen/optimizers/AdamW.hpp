// keras.optimizers.AdamW: Adam (Adam.hpp) with decoupled weight decay, default weight_decay 0.004
// (Keras 3 and tf.keras >= 2.11). Each step, before Adam's update: w -= lr * weight_decay * w.
#pragma once

#include <string>

#include "lumen/optimizers/Adam.hpp"

namespace lumen::optimizers {

template <class T = float>
struct AdamWOptions {
    LearningRate<T> learning_rate = 0.001;
    double weight_decay = 0.004;
    double beta_1 = 0.9;
    double beta_2 = 0.999;
    double epsilon = 1e-7;
    bool amsgrad = false;
    double clipnorm = 0;
    double clipvalue = 0;
    double global_clipnorm = 0;
};

template <class T = float>
class AdamW : public Adam<T> {
public:
    explicit AdamW(AdamWOptions<T> o = {})
        : Adam<T>("AdamW", AdamOptions<T>{o.learning_rate, o.beta_1, o.beta_2, o.epsilon, o.amsgrad, o.weight_decay,
                                          o.clipnorm, o.clipvalue, o.global_clipnorm}) {}
};

}  // namespace lumen::optimizers
