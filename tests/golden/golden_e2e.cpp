// Golden end-to-end cases (op e2e_sequential): Conv2D -> pooling -> Flatten -> Dense trained with repeated
// train_on_batch on one batch. Checks the forward pass at the initial weights, the loss each call reports
// (computed before its update), the gradient each update applied, and the weights after every update.
#include <memory>
#include <string>

#include "lumen/layers/AveragePooling2D.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/losses/get.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/optimizers/get.hpp"
#include "support/golden.hpp"

using namespace lumen;

namespace {

losses::LossPtr<float> golden_loss(const test::GoldenCase& c) {
    const std::string name = c.str("loss");
    const bool logits = c.integer("from_logits") != 0;
    if (name == "categorical_crossentropy")
        return std::make_shared<losses::CategoricalCrossentropy<float>>(
            losses::CategoricalCrossentropyOptions{.from_logits = logits, .label_smoothing = c.num("label_smoothing")});
    if (name == "sparse_categorical_crossentropy")
        return std::make_shared<losses::SparseCategoricalCrossentropy<float>>(
            losses::SparseCategoricalCrossentropyOptions{.from_logits = logits});
    if (name == "binary_crossentropy")
        return std::make_shared<losses::BinaryCrossentropy<float>>(losses::BinaryCrossentropyOptions{.from_logits = logits});
    FAIL("e2e golden: unsupported loss " << name);
    return nullptr;
}

optimizers::OptimizerPtr<float> golden_optimizer(const test::GoldenCase& c) {
    const std::string name = c.str("optimizer");
    Config cfg{{"learning_rate", c.str("learning_rate")}};
    for (const char* key : {"beta_1", "beta_2", "epsilon", "momentum", "rho"})
        if (c.has_param(key)) cfg.emplace_back(key, c.str(key));
    if (c.has_param("nesterov")) cfg.emplace_back("nesterov", c.integer("nesterov") ? "True" : "False");
    return optimizers::from_config<float>(name, cfg);
}

}  // namespace

LUMEN_GOLDEN_HANDLER("e2e_sequential") {
    const Tensor<float> x = c.tensor("input");
    const Tensor<float> y = c.tensor("y_true");
    const layers::Size2 ks(c.integer("conv_kernel_size", 0), c.integer("conv_kernel_size", 1));
    const layers::Size2 cs(c.integer("conv_strides", 0), c.integer("conv_strides", 1));
    const layers::Size2 ps(c.integer("pool_size", 0), c.integer("pool_size", 1));
    const layers::Size2 pst(c.integer("pool_strides", 0), c.integer("pool_strides", 1));
    LayerHandle<float> pool = c.str("pool") == "max_pooling2d"
                                  ? LayerHandle<float>(layers::MaxPooling2D<float>(ps, {.strides = pst, .padding = c.str("pool_padding")}))
                                  : LayerHandle<float>(layers::AveragePooling2D<float>(ps, {.strides = pst, .padding = c.str("pool_padding")}));
    Sequential<float> model({layers::Conv2D<float>(c.integer("conv_filters"), ks,
                                                   {.strides = cs, .padding = c.str("conv_padding"),
                                                    .activation = c.str("conv_activation")}),
                             pool, layers::Flatten<float>(), layers::Dense<float>(c.integer("dense_units"))},
                            {.input_shape = x.shape().without_batch()});
    model.set_weights({c.tensor("conv_kernel_step0"), c.tensor("conv_bias_step0"), c.tensor("dense_kernel_step0"),
                       c.tensor("dense_bias_step0")});
    model.compile(golden_optimizer(c), golden_loss(c));

    test::check_close("logits_step0", model.predict(x, {.verbose = 0}), c, "logits_step0");
    const char* names[] = {"conv_kernel", "conv_bias", "dense_kernel", "dense_bias"};
    const int steps = c.integer("steps");
    for (int k = 1; k <= steps; ++k) {
        const model::Logs logs = model.train_on_batch(x, y);
        const std::string prev = std::to_string(k - 1), now = std::to_string(k);
        test::check_close("loss reported by train_on_batch " + now, Tensor<float>(Shape{1}, float(logs.at("loss"))), c,
                          "loss_step" + prev);
        const auto weights = model.trainable_weights();
        REQUIRE(weights.size() == 4);
        for (std::size_t i = 0; i < 4; ++i) {
            test::check_close(std::string("grad ") + names[i] + " step " + now, weights[i]->grad, c,
                              std::string("grad_") + names[i] + "_step" + now);
            test::check_close(std::string(names[i]) + " after step " + now, weights[i]->value, c,
                              std::string(names[i]) + "_step" + now);
        }
    }
    const std::string last = "loss_step" + std::to_string(steps);
    if (c.has_tensor(last))
        test::check_close("loss after the last step", Tensor<float>(Shape{1}, float(model.test_on_batch(x, y).at("loss"))), c, last);
}
