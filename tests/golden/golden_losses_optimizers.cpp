// Golden checks for the losses (binary / categorical / sparse categorical crossentropy) and the optimizers
// (SGD, Adam, RMSprop) against ../shared/golden (format and formulas: shared/golden/README.md).
// Each case runs in float (the library's default) with the README's tolerance, and in double with a tolerance
// of 1e-8 relative: the files carry 9 significant digits, so this is as tight as they allow, and tight enough
// to tell Keras 3's BCE logs from tf.keras 2.x's log(p + eps) (5e-7 apart on bce_probs_2x4), which the
// README's tolerance cannot.
#include "lumen/losses/get.hpp"
#include "lumen/optimizers/get.hpp"
#include "support/golden.hpp"

using namespace lumen;
using namespace lumen::test;

namespace {

// An input tensor: the files hold float32 values in 9 digits, so they are read as float (exact) and widened;
// reading the digits straight into double would be off by up to ~3e-8 relative.
template <class T>
Tensor<T> input(const GoldenCase& c, const std::string& key) {
    return c.tensor<float>(key).template cast<T>();
}

// The README's bound in float; in double, 9-digit rounding of the files is the only difference expected.
template <class T>
void check_golden(const std::string& what, const Tensor<T>& got, const GoldenCase& c, const std::string& key) {
    if constexpr (sizeof(T) == sizeof(float))
        check_close(what, got, c, key);
    else
        check_close(what + " vs " + c.name + ":" + key + " (double, tight)", got, c.tensor<double>(key), 1e-12, 1e-8);
}

template <class T>
losses::LossPtr<T> loss_for(const GoldenCase& c) {
    const bool logits = c.integer("from_logits") != 0;
    REQUIRE(c.str("reduction") == "sum_over_batch_size");
    if (c.op == "binary_crossentropy")
        return std::make_shared<losses::BinaryCrossentropy<T>>(
            losses::BinaryCrossentropyOptions{.from_logits = logits, .label_smoothing = c.num("label_smoothing")});
    if (c.op == "categorical_crossentropy")
        return std::make_shared<losses::CategoricalCrossentropy<T>>(
            losses::CategoricalCrossentropyOptions{.from_logits = logits, .label_smoothing = c.num("label_smoothing")});
    return std::make_shared<losses::SparseCategoricalCrossentropy<T>>(
        losses::SparseCategoricalCrossentropyOptions{.from_logits = logits});
}

template <class T>
void check_loss_case(const GoldenCase& c) {
    INFO("scalar type " << (sizeof(T) == 4 ? "float" : "double"));
    if (c.has_param("epsilon")) REQUIRE(c.num("epsilon") == 1e-7);
    const auto loss = loss_for<T>(c);
    const Tensor<T> y_true = input<T>(c, "y_true");
    const Tensor<T> y_pred = input<T>(c, "y_pred");
    Tensor<T> grad;
    const T value = loss->compute(y_true, y_pred, &grad);
    check_golden("loss", Tensor<T>(Shape{1}, std::vector<T>{value}), c, "loss");
    check_golden("per_sample_loss", loss->per_sample(y_true, y_pred), c, "per_sample_loss");
    REQUIRE(grad.shape() == y_pred.shape());
    check_golden("grad_y_pred", grad, c, "grad_y_pred");
}

template <class T>
optimizers::OptimizerPtr<T> optimizer_for(const GoldenCase& c) {
    const double lr = c.num("learning_rate");
    if (c.op == "sgd")
        return std::make_shared<optimizers::SGD<T>>(optimizers::SGDOptions<T>{
            .learning_rate = lr, .momentum = c.num("momentum"), .nesterov = c.integer("nesterov") != 0});
    if (c.op == "adam")
        return std::make_shared<optimizers::Adam<T>>(optimizers::AdamOptions<T>{.learning_rate = lr,
                                                                                .beta_1 = c.num("beta_1"),
                                                                                .beta_2 = c.num("beta_2"),
                                                                                .epsilon = c.num("epsilon"),
                                                                                .amsgrad = c.integer("amsgrad") != 0});
    return std::make_shared<optimizers::RMSprop<T>>(
        optimizers::RMSpropOptions<T>{.learning_rate = lr,
                                      .rho = c.num("rho"),
                                      .momentum = c.num("momentum"),
                                      .epsilon = c.num("epsilon"),
                                      .centered = c.integer("centered") != 0});
}

// The golden slot names, in the order of the optimizer's slots().
inline std::vector<std::string> golden_slots(const GoldenCase& c) {
    if (c.op == "sgd") return c.num("momentum") > 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
    if (c.op == "adam") return {"m", "v"};
    return {"velocity"};
}

template <class T>
void check_optimizer_case(const GoldenCase& c) {
    INFO("scalar type " << (sizeof(T) == 4 ? "float" : "double"));
    const auto opt = optimizer_for<T>(c);
    Weight<T> w{"var", input<T>(c, "var_step0"), {}, true, {}};
    const int steps = c.integer("steps");
    REQUIRE(steps >= 1);
    const auto names = golden_slots(c);
    for (int k = 1; k <= steps; ++k) {
        const std::string s = "_step" + std::to_string(k);
        w.grad = input<T>(c, "grad" + s);
        opt->apply_gradients({&w});
        CHECK(opt->iterations() == k);
        check_golden("var" + s, w.value, c, "var" + s);
        const auto slots = opt->slots();
        REQUIRE(slots.size() == names.size());
        for (std::size_t i = 0; i < names.size(); ++i) check_golden(names[i] + s, *slots[i], c, names[i] + s);
    }
}

}  // namespace

LUMEN_GOLDEN_HANDLER("binary_crossentropy") {
    check_loss_case<float>(c);
    check_loss_case<double>(c);
}
LUMEN_GOLDEN_HANDLER("categorical_crossentropy") {
    check_loss_case<float>(c);
    check_loss_case<double>(c);
}
LUMEN_GOLDEN_HANDLER("sparse_categorical_crossentropy") {
    check_loss_case<float>(c);
    check_loss_case<double>(c);
}
LUMEN_GOLDEN_HANDLER("sgd") {
    check_optimizer_case<float>(c);
    check_optimizer_case<double>(c);
}
LUMEN_GOLDEN_HANDLER("adam") {
    check_optimizer_case<float>(c);
    check_optimizer_case<double>(c);
}
LUMEN_GOLDEN_HANDLER("rmsprop") {
    check_optimizer_case<float>(c);
    check_optimizer_case<double>(c);
}
