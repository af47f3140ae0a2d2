// Losses: central-difference gradient checks in double, saturated logits, sample weights, label smoothing,
// hand-computed values, the errors for bad targets, get() / from_config() and the regularization helper.
// (The Keras reference values themselves are checked in tests/golden/golden_losses_optimizers.cpp.)
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/losses/get.hpp"
#include "lumen/losses/regularization.hpp"

using namespace lumen;
using namespace lumen::losses;

namespace {

Tensor<double> uniform(const Shape& s, Generator& g, double lo, double hi) {
    Tensor<double> t(s);
    for (auto& v : t) v = g.uniform(lo, hi);
    return t;
}
Tensor<double> one_hot(const std::vector<int>& labels, index_t k) {
    Tensor<double> t(Shape{index_t(labels.size()), k});
    for (std::size_t i = 0; i < labels.size(); ++i) t.at(index_t(i), labels[i]) = 1;
    return t;
}

// Max |analytic - numeric| / (1e-3 + |numeric|) over every element of y_pred, with sample weights if given
// (the 1e-3 floor keeps round-off of central differences on tiny softmax entries from dominating).
double gradient_error(const Loss<double>& loss, const Tensor<double>& y_true, Tensor<double> y_pred,
                      const std::vector<double>* sw = nullptr) {
    Tensor<double> grad;
    loss.compute(y_true, y_pred, &grad, sw);
    REQUIRE(grad.shape() == y_pred.shape());
    const double h = 1e-6;
    double worst = 0;
    for (index_t i = 0; i < y_pred.size(); ++i) {
        const double v = y_pred[i];
        y_pred[i] = v + h;
        const double lp = loss.compute(y_true, y_pred, nullptr, sw);
        y_pred[i] = v - h;
        const double lm = loss.compute(y_true, y_pred, nullptr, sw);
        y_pred[i] = v;
        const double numeric = (lp - lm) / (2 * h);
        worst = std::max(worst, std::abs(grad[i] - numeric) / (1e-3 + std::abs(numeric)));
    }
    return worst;
}

template <class Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("losses: analytic gradients match central differences (double)", "[losses]") {
    Generator g(42);
    const std::vector<double> weights{0.5, 2.0, 1.0};

    SECTION("BinaryCrossentropy") {
        for (bool logits : {false, true})
            for (double ls : {0.0, 0.2}) {
                BinaryCrossentropy<double> loss({.from_logits = logits, .label_smoothing = ls});
                // probabilities away from the clip edges; soft targets test the general formula
                const Tensor<double> y_pred = logits ? uniform({3, 4}, g, -4, 4) : uniform({3, 4}, g, 0.05, 0.95);
                const Tensor<double> y_true = uniform({3, 4}, g, 0, 1);
                INFO("from_logits " << logits << " label_smoothing " << ls);
                CHECK(gradient_error(loss, y_true, y_pred) < 1e-6);
                CHECK(gradient_error(loss, y_true, y_pred, &weights) < 1e-6);
                // rank 3: the middle axis is averaged as well
                CHECK(gradient_error(loss, uniform({3, 2, 4}, g, 0, 1),
                                     logits ? uniform({3, 2, 4}, g, -3, 3) : uniform({3, 2, 4}, g, 0.05, 0.95)) < 1e-6);
            }
    }
    SECTION("CategoricalCrossentropy") {
        for (bool logits : {false, true})
            for (double ls : {0.0, 0.1}) {
                CategoricalCrossentropy<double> loss({.from_logits = logits, .label_smoothing = ls});
                const Tensor<double> y_pred = logits ? uniform({3, 5}, g, -5, 5) : uniform({3, 5}, g, 0.1, 1.0);
                INFO("from_logits " << logits << " label_smoothing " << ls);
                CHECK(gradient_error(loss, one_hot({0, 3, 4}, 5), y_pred) < 1e-6);
                CHECK(gradient_error(loss, one_hot({1, 1, 2}, 5), y_pred, &weights) < 1e-6);
                // soft targets that do not sum to 1: the exact gradient, not TF's softmax - y shortcut
                CHECK(gradient_error(loss, uniform({3, 5}, g, 0, 1), y_pred) < 1e-6);
            }
    }
    SECTION("SparseCategoricalCrossentropy, labels (N,) and (N, 1)") {
        for (bool logits : {false, true}) {
            SparseCategoricalCrossentropy<double> loss({.from_logits = logits});
            const Tensor<double> y_pred = logits ? uniform({3, 5}, g, -5, 5) : uniform({3, 5}, g, 0.05, 0.9);
            INFO("from_logits " << logits);
            CHECK(gradient_error(loss, Tensor<double>({3}, {0, 4, 2}), y_pred) < 1e-6);
            CHECK(gradient_error(loss, Tensor<double>({3, 1}, {1, 1, 3}), y_pred, &weights) < 1e-6);
        }
    }
    SECTION("MeanSquaredError") {
        MeanSquaredError<double> loss;
        CHECK(gradient_error(loss, uniform({3, 4}, g, -1, 1), uniform({3, 4}, g, -1, 1)) < 1e-6);
        CHECK(gradient_error(loss, uniform({3, 4}, g, -1, 1), uniform({3, 4}, g, -1, 1), &weights) < 1e-6);
    }
}

TEST_CASE("losses: hand-computed values", "[losses]") {
    SECTION("BinaryCrossentropy with label smoothing moves targets towards 0.5") {
        BinaryCrossentropy<double> loss({.label_smoothing = 0.2});
        // y = 1 -> 0.9, y = 0 -> 0.1
        const Tensor<double> y_true({2, 1}, {1, 0}), y_pred({2, 1}, {0.8, 0.3});
        const double l0 = -(0.9 * std::log(0.8) + 0.1 * std::log(0.2));
        const double l1 = -(0.1 * std::log(0.3) + 0.9 * std::log(0.7));
        CHECK(loss(y_true, y_pred) == Approx((l0 + l1) / 2).epsilon(1e-12));
        const Tensor<double> ps = loss.per_sample(y_true, y_pred);
        CHECK(ps[0] == Approx(l0).epsilon(1e-12));
        CHECK(ps[1] == Approx(l1).epsilon(1e-12));
    }
    SECTION("CategoricalCrossentropy label smoothing uses ls / num_classes") {
        CategoricalCrossentropy<double> loss({.from_logits = true, .label_smoothing = 0.3});
        const Tensor<double> y_true({1, 3}, {0, 1, 0}), z({1, 3}, {1.0, 2.0, -1.0});
        const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(-1.0));
        const double ys[3] = {0.1, 0.8, 0.1};
        const double want = -(ys[0] * (1 - lse) + ys[1] * (2 - lse) + ys[2] * (-1 - lse));
        CHECK(loss(y_true, z) == Approx(want).epsilon(1e-12));
    }
    SECTION("MeanSquaredError: mean over the last axis, then over the batch") {
        MeanSquaredError<double> loss;
        const Tensor<double> y_true({2, 2}, {0, 1, 2, 3}), y_pred({2, 2}, {1, 1, 2, 1});
        CHECK(loss(y_true, y_pred) == Approx((0.5 + 2.0) / 2));
    }
    SECTION("sample weights: sum(w_i l_i) / N, not / sum(w)") {
        BinaryCrossentropy<double> loss({.from_logits = true});
        const Tensor<double> y_true({2, 1}, {1, 0}), z({2, 1}, {0.3, 0.7});
        const Tensor<double> ps = loss.per_sample(y_true, z);
        const std::vector<double> w{3.0, 0.0};
        Tensor<double> grad;
        CHECK(loss.compute(y_true, z, &grad, &w) == Approx(3.0 * ps[0] / 2).epsilon(1e-12));
        CHECK(grad[1] == 0.0);
        CHECK(grad[0] == Approx(3.0 * (1 / (1 + std::exp(-0.3)) - 1) / 2).epsilon(1e-12));
    }
    SECTION("sparse from probabilities renormalises the clipped row (TF's log + fused op)") {
        SparseCategoricalCrossentropy<double> loss;
        const Tensor<double> y_true({1}, {1}), p({1, 3}, {0.2, 0.2, 0.4});
        CHECK(loss(y_true, p) == Approx(-std::log(0.2 / 0.8)).epsilon(1e-12));
    }
}

TEST_CASE("losses: saturated logits (+-100) give finite losses and gradients", "[losses]") {
    SECTION("CategoricalCrossentropy from logits, float") {
        CategoricalCrossentropy<float> loss({.from_logits = true});
        const Tensor<float> z({2, 3}, {100, -100, 0, 100, -100, 0});
        const Tensor<float> y({2, 3}, {1, 0, 0, 0, 1, 0});
        Tensor<float> grad;
        const float l = loss.compute(y, z, &grad);
        const Tensor<float> ps = loss.per_sample(y, z);
        CHECK(std::isfinite(l));
        CHECK(ps[0] == Approx(0.0).margin(1e-6));
        CHECK(ps[1] == Approx(200.0).epsilon(1e-6));
        for (float v : grad) CHECK(std::isfinite(v));
        CHECK(grad[3] == Approx(0.5f));   // softmax 1 at the wrong class, / batch 2
        CHECK(grad[4] == Approx(-0.5f));  // -onehot / batch
    }
    SECTION("SparseCategoricalCrossentropy from logits, float") {
        SparseCategoricalCrossentropy<float> loss({.from_logits = true});
        const Tensor<float> z({1, 3}, {-100, 100, -100});
        Tensor<float> grad;
        CHECK(loss.compute(Tensor<float>({1}, {0}), z, &grad) == Approx(200.0f));
        for (float v : grad) CHECK(std::isfinite(v));
        CHECK(grad[0] == Approx(-1.0f));
        CHECK(grad[1] == Approx(1.0f));
    }
    SECTION("BinaryCrossentropy from logits, float") {
        BinaryCrossentropy<float> loss({.from_logits = true});
        const Tensor<float> z({4, 1}, {100, -100, 100, -100}), y({4, 1}, {0, 1, 1, 0});
        Tensor<float> grad;
        const Tensor<float> ps = loss.per_sample(y, z);
        CHECK(ps[0] == Approx(100.0f));
        CHECK(ps[1] == Approx(100.0f));
        CHECK(ps[2] == Approx(0.0f).margin(1e-6));
        CHECK(ps[3] == Approx(0.0f).margin(1e-6));
        CHECK(std::isfinite(loss.compute(y, z, &grad)));
        CHECK(grad[0] == Approx(0.25f));
        CHECK(grad[1] == Approx(-0.25f));
    }
    SECTION("BinaryCrossentropy on probabilities exactly 0 and 1: clipped, gradient 0 outside the clip") {
        BinaryCrossentropy<float> loss;
        const Tensor<float> p({2, 1}, {0, 1}), y({2, 1}, {1, 0});
        Tensor<float> grad;
        const float l = loss.compute(y, p, &grad);
        // float32 clip bounds: p -> 1e-7 and 1 - p -> 1 - 0.99999988 = 2^-23
        CHECK(l == Approx((-std::log(1e-7) - std::log(std::ldexp(1.0, -23))) / 2).epsilon(1e-5));
        CHECK(grad[0] == 0.0f);
        CHECK(grad[1] == 0.0f);
    }
    SECTION("CategoricalCrossentropy on a probability of 0: clipped at 1e-7") {
        CategoricalCrossentropy<float> loss;
        Tensor<float> grad;
        const float l = loss.compute(Tensor<float>({1, 2}, {1, 0}), Tensor<float>({1, 2}, {0, 1}), &grad);
        CHECK(l == Approx(-std::log(1e-7)).epsilon(1e-4));
        for (float v : grad) CHECK(std::isfinite(v));
    }
}

TEST_CASE("losses: bad targets throw lumen::Error naming the loss and the shapes", "[losses]") {
    const Tensor<float> p({2, 3}, {0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.8f});
    using Catch::Matchers::Contains;
    CHECK_THAT(error_of([&] {
                   (void)CategoricalCrossentropy<float>()(Tensor<float>({2}, {0, 1}), p);
               }),
               Contains("CategoricalCrossentropy") && Contains("(2,)") && Contains("(2, 3)") &&
                   Contains("SparseCategoricalCrossentropy"));
    CHECK_THAT(error_of([&] {
                   (void)BinaryCrossentropy<float>()(Tensor<float>({2, 2}), p);
               }),
               Contains("BinaryCrossentropy") && Contains("(2, 2)") && Contains("(2, 3)"));
    CHECK_THAT(error_of([&] {
                   (void)SparseCategoricalCrossentropy<float>()(Tensor<float>({2}, {0, 3}), p);
               }),
               Contains("SparseCategoricalCrossentropy") && Contains("label 3") && Contains("[0, 3)"));
    CHECK_THAT(error_of([&] {
                   (void)SparseCategoricalCrossentropy<float>()(Tensor<float>({2}, {0, 1.5f}), p);
               }),
               Contains("label 1.5"));
    CHECK_THAT(error_of([&] {
                   (void)SparseCategoricalCrossentropy<float>()(Tensor<float>({2}, {-1, 0}), p);
               }),
               Contains("label -1"));
    CHECK_THAT(error_of([&] {
                   (void)SparseCategoricalCrossentropy<float>()(Tensor<float>({2, 3}), p);
               }),
               Contains("(2, 3)") && Contains("CategoricalCrossentropy"));
    CHECK_THAT(error_of([&] {
                   (void)MeanSquaredError<float>()(Tensor<float>({2, 3}, {0, 0, std::nanf(""), 0, 0, 0}), p);
               }),
               Contains("MeanSquaredError") && Contains("NaN"));
    CHECK_THAT(error_of([&] {
                   const std::vector<float> w{1, 1, 1};
                   (void)CategoricalCrossentropy<float>().compute(Tensor<float>({2, 3}), p, nullptr, &w);
               }),
               Contains("3 sample weights") && Contains("batch of 2"));
    CHECK_THAT(error_of([] { BinaryCrossentropy<float>({.label_smoothing = 1.5}); }), Contains("label_smoothing"));
    // (N,) targets against (N, 1) outputs are accepted, as Keras squeezes them
    CHECK_NOTHROW(BinaryCrossentropy<float>()(Tensor<float>({2}, {1, 0}), Tensor<float>({2, 1}, {0.7f, 0.2f})));
}

TEST_CASE("losses: get() by Keras names and from_config() round trip", "[losses]") {
    CHECK(get<float>("binary_crossentropy")->class_name() == "BinaryCrossentropy");
    CHECK(get<float>("categorical_crossentropy")->class_name() == "CategoricalCrossentropy");
    CHECK(get<float>("sparse_categorical_crossentropy")->class_name() == "SparseCategoricalCrossentropy");
    CHECK(get<float>("mse")->name() == "mean_squared_error");
    CHECK(get<float>("BinaryCrossentropy")->from_logits() == false);
    CHECK_THROWS_AS(get<float>("hinge"), Error);

    const CategoricalCrossentropy<double> original({.from_logits = true, .label_smoothing = 0.1});
    const auto copy = from_config<double>(original.class_name(), original.get_config());
    CHECK(copy->from_logits());
    CHECK(dynamic_cast<CategoricalCrossentropy<double>&>(*copy).label_smoothing() == 0.1);
    CHECK(from_config<float>("binary_crossentropy", {})->class_name() == "BinaryCrossentropy");
}

TEST_CASE("losses: regularization penalty and its gradient", "[losses][regularization]") {
    Weight<double> kernel{"kernel", Tensor<double>({3}, {1.0, -2.0, 0.0}), Tensor<double>({3}, {0.5, 0.5, 0.5}), true,
                          regularizers::l1_l2(0.1, 0.01)};
    Weight<double> bias{"bias", Tensor<double>({1}, {3.0}), Tensor<double>({1}), true, {}};
    const std::vector<Weight<double>*> ws{&kernel, &bias};
    // 0.1 * (1 + 2 + 0) + 0.01 * (1 + 4 + 0) = 0.35; the bias has no regularizer
    CHECK(regularization_penalty(ws) == Approx(0.35));
    CHECK(apply_regularization(ws) == Approx(0.35));
    // grad += 0.1*sign(w) + 2*0.01*w, added to what was there
    CHECK(kernel.grad[0] == Approx(0.5 + 0.1 + 0.02));
    CHECK(kernel.grad[1] == Approx(0.5 - 0.1 - 0.04));
    CHECK(kernel.grad[2] == Approx(0.5));
    CHECK(bias.grad[0] == 0.0);
}
