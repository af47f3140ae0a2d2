// Numerical faults in fit(): a NaN or infinite loss stops training with an Error naming the epoch and step (1-based,
// as the progress bar counts), TerminateOnNaN stops quietly instead, and in both cases the model keeps the weights
// of the last good step — the same weights as a run that simply stopped before the bad batch.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <sstream>

#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/losses/MeanSquaredError.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/model/callbacks/TerminateOnNaN.hpp"
#include "lumen/optimizers/SGD.hpp"

using namespace lumen;

namespace {

Sequential<double> make_model() {
    Sequential<double> m({layers::Input<double>({3}), layers::Dense<double>(4, {.activation = "tanh"}),
                          layers::Dense<double>(1)},
                         {.seed = 7});
    m.compile(optimizers::SGD<double>({.learning_rate = 0.05}), losses::MeanSquaredError<double>());
    return m;
}

// n samples of 3 features; sample `bad` (if >= 0) gets `poison` in its first feature.
std::pair<Tensor<double>, Tensor<double>> make_data(index_t n, index_t bad, double poison) {
    Tensor<double> x(Shape{n, 3}), y(Shape{n, 1});
    for (index_t i = 0; i < n; ++i) {
        for (index_t j = 0; j < 3; ++j) x[i * 3 + j] = std::sin(double(i * 3 + j));
        y[i] = x[i * 3] - 0.5 * x[i * 3 + 2];
    }
    if (bad >= 0) x[bad * 3] = poison;
    return {x, y};
}

std::vector<std::vector<double>> weights_of(Sequential<double>& m) {
    std::vector<std::vector<double>> out;
    for (const auto& l : m.layers())
        for (auto* w : l->weights()) out.emplace_back(w->value.begin(), w->value.end());
    return out;
}

}  // namespace

TEST_CASE("a NaN or infinite loss stops fit with an Error naming epoch and step, keeping the last good weights",
          "[faults]") {
    const double poison = GENERATE(std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity());
    // Batches of 4 without shuffling: sample 9 is in the third batch (step 3) of every epoch. With initial_epoch 2
    // the first epoch run is epoch 3 (Keras prints initial_epoch + 1).
    auto [x, y] = make_data(16, 9, poison);
    Sequential<double> model = make_model();
    std::ostringstream out;
    std::string message;
    try {
        model.fit(x, y, {.batch_size = 4, .epochs = 4, .verbose = 0, .shuffle = false, .initial_epoch = 2, .out = &out});
    } catch (const Error& e) {
        message = e.what();
    }
    INFO(message);
    REQUIRE_FALSE(message.empty());
    CHECK_THAT(message, Catch::Contains("epoch 3, step 3"));
    // NaN propagates into the loss; an infinite input saturates tanh (finite loss) but makes a kernel gradient
    // inf * 0 = NaN, which fit() reports as a non-finite gradient at the same place.
    CHECK_THAT(message, Catch::Contains(std::isnan(poison) ? "the loss is NaN" : "a gradient is not finite"));
    CHECK_THAT(message, Catch::Contains("TerminateOnNaN"));

    // Reference: the same model trained on the two good batches only.
    auto [xr, yr] = make_data(8, -1, 0);
    Sequential<double> ref = make_model();
    ref.fit(xr, yr, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false, .out = &out});
    const auto got = weights_of(model), want = weights_of(ref);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i] == want[i]);
        for (double v : got[i]) CHECK(std::isfinite(v));
    }
    // The model is still usable: it predicts finite values on good inputs.
    const Tensor<double> p = model.predict(xr, {.verbose = 0});
    for (double v : p) CHECK(std::isfinite(v));
}

TEST_CASE("TerminateOnNaN stops quietly at the bad batch with Keras' message and keeps the last good weights",
          "[faults]") {
    auto [x, y] = make_data(16, 13, std::numeric_limits<double>::quiet_NaN());  // batch 4 (0-based step 3), epoch 1
    Sequential<double> model = make_model();
    std::ostringstream out;  // fit's output stream is also the callbacks' log stream
    auto history = model.fit(x, y, {.batch_size = 4, .epochs = 3, .verbose = 0, .shuffle = false,
                                    .callbacks = {std::make_shared<callbacks::TerminateOnNaN<double>>()}, .out = &out});
    CHECK_THAT(out.str(), Catch::Contains("Batch 3: Invalid loss, terminating training"));

    auto [xr, yr] = make_data(12, -1, 0);
    Sequential<double> ref = make_model();
    std::ostringstream ref_out;
    ref.fit(xr, yr, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false, .out = &ref_out});
    CHECK(weights_of(model) == weights_of(ref));
    (void)history;
}

TEST_CASE("an infinite loss (overflowing prediction) is named as such", "[faults]") {
    // A linear model on an input of 1e200: the prediction is finite, its square (the MSE) overflows to inf.
    auto [x, y] = make_data(8, 6, 1e200);  // batch 2 of epoch 1
    Sequential<double> model({layers::Input<double>({3}), layers::Dense<double>(1)}, {.seed = 3});
    model.compile(optimizers::SGD<double>(), losses::MeanSquaredError<double>());
    std::ostringstream out;
    CHECK_THROWS_WITH(model.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .shuffle = false, .out = &out}),
                      Catch::Contains("the loss is infinite at epoch 1, step 2"));
}

TEST_CASE("a NaN label is rejected by the loss with an Error naming it", "[faults]") {
    auto [x, y] = make_data(8, -1, 0);
    y[5] = std::numeric_limits<double>::quiet_NaN();
    Sequential<double> model = make_model();
    std::ostringstream out;
    CHECK_THROWS_WITH(model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false, .out = &out}),
                      Catch::Contains("y_true") && Catch::Contains("NaN"));
}
