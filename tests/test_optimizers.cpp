// Optimizers and schedules against hand-computed values: schedules, a schedule driving SGD, clipnorm /
// clipvalue / global_clipnorm, decoupled weight decay (SGD and AdamW), amsgrad, RMSprop with momentum and
// centered, skipped weights, checkpoint restore of slots, argument validation, get() / from_config().
// (Keras' reference trajectories for SGD, Adam and RMSprop are in tests/golden/golden_losses_optimizers.cpp.)
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/optimizers/get.hpp"

using namespace lumen;
using namespace lumen::optimizers;

namespace {

Weight<double> weight(std::vector<double> value, std::vector<double> grad) {
    const index_t n = index_t(value.size());
    return Weight<double>{"w", Tensor<double>({n}, std::move(value)), Tensor<double>({n}, std::move(grad)), true, {}};
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

TEST_CASE("schedules: Keras formulas at chosen steps", "[optimizers][schedules]") {
    const schedules::ExponentialDecay<> exp_decay(0.1, 10, 0.5);
    CHECK(exp_decay(0) == Approx(0.1));
    CHECK(exp_decay(5) == Approx(0.1 * std::sqrt(0.5)));
    CHECK(exp_decay(15) == Approx(0.1 * std::pow(0.5, 1.5)));
    const schedules::ExponentialDecay<> stair(0.1, 10, 0.5, true);
    CHECK(stair(9) == Approx(0.1));
    CHECK(stair(15) == Approx(0.05));
    CHECK(stair(20) == Approx(0.025));

    const schedules::PiecewiseConstantDecay<> piecewise({10, 20}, {1.0, 0.5, 0.1});
    CHECK(piecewise(0) == 1.0);
    CHECK(piecewise(10) == 1.0);  // boundaries are inclusive on the left piece, as Keras' step <= b
    CHECK(piecewise(11) == 0.5);
    CHECK(piecewise(20) == 0.5);
    CHECK(piecewise(21) == 0.1);
    CHECK(piecewise(1000) == 0.1);

    const schedules::CosineDecay<> cosine(0.1, 100, 0.1);
    CHECK(cosine(0) == Approx(0.1));
    CHECK(cosine(50) == Approx(0.1 * (0.9 * 0.5 + 0.1)));
    CHECK(cosine(100) == Approx(0.01));
    CHECK(cosine(250) == Approx(0.01));  // held at the end value
    CHECK(cosine(25) == Approx(0.1 * (0.9 * 0.5 * (1 + std::cos(M_PI / 4)) + 0.1)));

    // Keras >= 2.13 warmup: linear 0.0 -> 0.2 over 10 steps, then cosine from 0.2 over 100 steps
    const schedules::CosineDecay<> warm(0.0, 100, 0.0, 0.2, 10);
    CHECK(warm(0) == 0.0);
    CHECK(warm(5) == Approx(0.1));
    CHECK(warm(10) == Approx(0.2));
    CHECK(warm(60) == Approx(0.1));
    CHECK(warm(110) == Approx(0.0).margin(1e-15));
    CHECK(warm(500) == Approx(0.0).margin(1e-15));

    CHECK_THROWS_AS(schedules::PiecewiseConstantDecay<>({10, 20}, {1.0, 0.5}), Error);
    CHECK_THROWS_AS(schedules::PiecewiseConstantDecay<>({20, 10}, {1.0, 0.5, 0.1}), Error);
    CHECK_THROWS_AS(schedules::ExponentialDecay<>(0.1, 0, 0.5), Error);
    CHECK_THROWS_AS(schedules::CosineDecay<>(0.1, 10, 2.0), Error);
}

TEST_CASE("optimizers: a schedule is read at the 0-based iteration, which advances once per call", "[optimizers]") {
    SGD<double> sgd({.learning_rate = schedules::PiecewiseConstantDecay<double>({1}, {1.0, 0.5})});
    auto w = weight({1.0}, {1.0});
    sgd.apply_gradients({&w});  // iteration 0: lr 1
    CHECK(w.value[0] == Approx(0.0));
    sgd.apply_gradients({&w});  // iteration 1 <= boundary 1: lr 1
    CHECK(w.value[0] == Approx(-1.0));
    CHECK(sgd.current_learning_rate() == 0.5);
    sgd.apply_gradients({&w});  // iteration 2: lr 0.5
    CHECK(w.value[0] == Approx(-1.5));
    CHECK(sgd.iterations() == 3);

    // a float schedule drives a double optimizer too
    SGD<double> mixed({.learning_rate = schedules::ExponentialDecay(0.1, 10, 0.5)});
    mixed.set_iterations(10);
    CHECK(mixed.current_learning_rate() == Approx(0.05));

    sgd.set_learning_rate(0.25);  // replaces the schedule (ReduceLROnPlateau does this)
    CHECK(sgd.current_learning_rate() == 0.25);
    CHECK_FALSE(sgd.learning_rate().is_schedule());
}

TEST_CASE("optimizers: gradient clipping", "[optimizers][clip]") {
    auto a = weight({0, 0}, {3, 4});
    auto b = weight({0}, {0.3});
    SECTION("clipnorm clips each gradient by its own norm and leaves the grads untouched") {
        SGD<double> sgd({.learning_rate = 1.0, .clipnorm = 1.0});
        sgd.apply_gradients({&a, &b});
        CHECK(a.value[0] == Approx(-0.6));
        CHECK(a.value[1] == Approx(-0.8));
        CHECK(b.value[0] == Approx(-0.3));  // norm 0.3 < 1: unchanged
        CHECK(a.grad[0] == 3.0);
    }
    SECTION("global_clipnorm scales all gradients by one factor") {
        SGD<double> sgd({.learning_rate = 1.0, .global_clipnorm = 1.0});
        sgd.apply_gradients({&a, &b});
        const double norm = std::sqrt(9 + 16 + 0.09);
        CHECK(a.value[0] == Approx(-3 / norm));
        CHECK(a.value[1] == Approx(-4 / norm));
        CHECK(b.value[0] == Approx(-0.3 / norm));
    }
    SECTION("clipvalue clips each element") {
        a.grad[1] = -4;
        SGD<double> sgd({.learning_rate = 1.0, .clipvalue = 0.5});
        sgd.apply_gradients({&a, &b});
        CHECK(a.value[0] == Approx(-0.5));
        CHECK(a.value[1] == Approx(0.5));
        CHECK(b.value[0] == Approx(-0.3));
    }
    SECTION("Keras 3 allows only one clipping argument") {
        CHECK_THAT(error_of([] { SGD<double>({.clipnorm = 1.0, .clipvalue = 1.0}); }),
                   Catch::Matchers::Contains("only one of clipnorm, clipvalue and global_clipnorm"));
    }
}

TEST_CASE("optimizers: decoupled weight decay", "[optimizers][weight_decay]") {
    SECTION("SGD: w -= lr*wd*w, then the SGD step") {
        SGD<double> sgd({.learning_rate = 0.1, .weight_decay = 0.5});
        auto w = weight({2.0}, {1.0});
        sgd.apply_gradients({&w});
        CHECK(w.value[0] == Approx(2.0 - 0.1 * 0.5 * 2.0 - 0.1 * 1.0));
    }
    SECTION("AdamW: default weight_decay 0.004 before Adam's step") {
        AdamW<double> adamw;
        CHECK(adamw.weight_decay() == 0.004);
        CHECK(adamw.name() == "AdamW");
        auto w = weight({1.0}, {0.5});
        adamw.apply_gradients({&w});
        const double decayed = 1.0 - 1e-3 * 0.004 * 1.0;
        const double m = 0.1 * 0.5, v = 0.001 * 0.25;
        const double alpha = 1e-3 * std::sqrt(1 - 0.999) / (1 - 0.9);
        CHECK(w.value[0] == Approx(decayed - alpha * m / (std::sqrt(v) + 1e-7)).epsilon(1e-14));
    }
}

TEST_CASE("optimizers: Adam amsgrad keeps the largest velocity", "[optimizers]") {
    Adam<double> adam({.learning_rate = 0.01, .amsgrad = true});
    auto w = weight({1.0}, {1.0});
    adam.apply_gradients({&w});
    w.grad[0] = 0.01;  // v shrinks; v_hat must not
    adam.apply_gradients({&w});
    double m = 0.1, v = 0.001, vhat = 0.001,
           want = 1.0 - 0.01 * std::sqrt(1 - 0.999) / 0.1 * m / (std::sqrt(vhat) + 1e-7);
    m += (0.01 - m) * 0.1;
    v += (0.0001 - v) * 0.001;
    vhat = std::max(vhat, v);
    CHECK(vhat == 0.001);
    want -= 0.01 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.81) * m / (std::sqrt(vhat) + 1e-7);
    CHECK(w.value[0] == Approx(want).epsilon(1e-14));
    const auto s = adam.slots();
    REQUIRE(s.size() == 3);
    CHECK((*s[1])[0] == Approx(v).epsilon(1e-14));
    CHECK((*s[2])[0] == Approx(vhat).epsilon(1e-14));
}

TEST_CASE("optimizers: RMSprop with momentum and centered", "[optimizers]") {
    RMSprop<double> rms({.learning_rate = 0.01, .momentum = 0.5, .centered = true});
    REQUIRE(rms.slot_names() == std::vector<std::string>{"velocity", "momentum", "average_gradient"});
    auto w = weight({1.0}, {0.5});
    double v = 0, mg = 0, mom = 0, want = 1.0;
    for (double g : {0.5, -0.2, 0.7}) {
        w.grad[0] = g;
        rms.apply_gradients({&w});
        v = 0.9 * v + 0.1 * g * g;
        mg = 0.9 * mg + 0.1 * g;
        mom = 0.5 * mom + 0.01 * g / std::sqrt(v - mg * mg + 1e-7);
        want -= mom;
        CHECK(w.value[0] == Approx(want).epsilon(1e-14));
    }
}

TEST_CASE("optimizers: weights without gradients are skipped; no gradients is a no-op", "[optimizers]") {
    Adam<double> adam;
    Weight<double> moving{"moving_mean", Tensor<double>({2}, {1, 2}), {}, false, {}};
    auto frozen = weight({5.0}, {1.0});
    frozen.trainable = false;
    adam.apply_gradients({&moving, &frozen});
    adam.apply_gradients({});
    CHECK(adam.iterations() == 0);
    CHECK(adam.slots().empty());
    CHECK(frozen.value[0] == 5.0);
    auto w = weight({1.0}, {1.0});
    adam.apply_gradients({&moving, &w, nullptr});
    CHECK(adam.iterations() == 1);
    CHECK(adam.slots().size() == 2);
    CHECK(moving.value[1] == 2.0);

    // A trainable weight without a gradient this step still gets its slots (in order) but is not moved, so
    // the slot layout does not depend on which gradients happened to exist.
    Adam<double> fresh;
    Weight<double> no_grad{"no_grad", Tensor<double>({2}, {7, 8}), {}, true, {}};
    auto with_grad = weight({1.0}, {1.0});
    fresh.apply_gradients({&no_grad, &with_grad});
    REQUIRE(fresh.slots().size() == 4);
    CHECK(fresh.slots()[0]->shape() == Shape{2});
    CHECK(no_grad.value[0] == 7.0);
    CHECK(with_grad.value[0] != 1.0);

    auto bad = weight({1.0, 2.0}, {1.0, 1.0});
    bad.grad = Tensor<double>({3});
    CHECK_THAT(error_of([&] { adam.apply_gradients({&bad}); }), Catch::Matchers::Contains("Adam") &&
                                                                    Catch::Matchers::Contains("(2,)") &&
                                                                    Catch::Matchers::Contains("(3,)"));
}

TEST_CASE("optimizers: slots restored from a checkpoint continue exactly", "[optimizers][checkpoint]") {
    Generator g(3);
    auto random_grads = [&](std::vector<Weight<double>>& ws) {
        for (auto& w : ws)
            for (auto& v : w.grad) v = g.uniform(-1, 1);
    };
    std::vector<Weight<double>> ws{weight({0.1, 0.2, 0.3}, {0, 0, 0}), weight({-0.5}, {0})};
    auto ptrs = [](std::vector<Weight<double>>& v) { return std::vector<Weight<double>*>{&v[0], &v[1]}; };

    Adam<double> a({.learning_rate = 0.01});
    for (int step = 0; step < 3; ++step) {
        random_grads(ws);
        a.apply_gradients(ptrs(ws));
    }
    // Checkpoint: weights, iterations, slots in slots() order.
    std::vector<Weight<double>> saved = ws;
    std::vector<Tensor<double>> saved_slots;
    for (auto* s : a.slots()) saved_slots.push_back(*s);
    REQUIRE(saved_slots.size() == 4);  // (m, v) per weight
    CHECK(saved_slots[0].shape() == Shape{3});
    CHECK(saved_slots[2].shape() == Shape{1});

    Adam<double> b({.learning_rate = 0.01});
    b.build(ptrs(saved));  // slots exist before the first step, so they can be filled
    auto restored = b.slots();
    REQUIRE(restored.size() == saved_slots.size());
    for (std::size_t i = 0; i < restored.size(); ++i) *restored[i] = saved_slots[i];
    b.set_iterations(a.iterations());

    for (int step = 0; step < 2; ++step) {
        random_grads(ws);
        for (std::size_t k = 0; k < ws.size(); ++k) saved[k].grad = ws[k].grad;
        a.apply_gradients(ptrs(ws));
        b.apply_gradients(ptrs(saved));
    }
    for (std::size_t k = 0; k < ws.size(); ++k)
        for (index_t i = 0; i < ws[k].value.size(); ++i) CHECK(saved[k].value[i] == ws[k].value[i]);
    CHECK(b.iterations() == 5);
}

TEST_CASE("optimizers: invalid hyper-parameters name the optimizer and the argument", "[optimizers]") {
    using Catch::Matchers::Contains;
    CHECK_THAT(error_of([] { Adam<>({.beta_1 = 1.0}); }), Contains("Adam") && Contains("beta_1"));
    CHECK_THAT(error_of([] { Adam<>({.beta_2 = -0.1}); }), Contains("Adam") && Contains("beta_2"));
    CHECK_THAT(error_of([] { AdamW<>({.learning_rate = -1.0}); }), Contains("AdamW") && Contains("learning_rate"));
    CHECK_THAT(error_of([] { SGD<>({.momentum = -0.5}); }), Contains("SGD") && Contains("momentum"));
    CHECK_THAT(error_of([] { RMSprop<>({.rho = 1.0}); }), Contains("RMSprop") && Contains("rho"));
    CHECK_THAT(error_of([] { RMSprop<>({.epsilon = -1e-7}); }), Contains("RMSprop") && Contains("epsilon"));
    CHECK_THAT(error_of([] { SGD<>({.weight_decay = -0.1}); }), Contains("SGD") && Contains("weight_decay"));
    CHECK_THAT(error_of([] { SGD<>({.clipnorm = -1.0}); }), Contains("clipnorm"));
    CHECK_THAT(error_of([] { SGD<>().set_learning_rate(-0.1); }), Contains("learning_rate"));
}

TEST_CASE("optimizers: Keras defaults, get() by name, from_config() round trip", "[optimizers]") {
    // Designated initialisers with class template argument deduction give the float optimizer.
    SGD sgd({.learning_rate = 0.1, .momentum = 0.9});
    static_assert(std::is_same_v<decltype(sgd), SGD<float>>);

    const Adam<> adam;
    CHECK(adam.current_learning_rate() == 0.001);
    CHECK(adam.beta_1() == 0.9);
    CHECK(adam.beta_2() == 0.999);
    CHECK(adam.epsilon() == 1e-7);
    CHECK(SGD<>().current_learning_rate() == 0.01);
    CHECK(SGD<>().momentum() == 0);
    CHECK(RMSprop<>().rho() == 0.9);
    CHECK(RMSprop<>().epsilon() == 1e-7);

    CHECK(get<float>("adam")->name() == "Adam");
    CHECK(get<float>("SGD")->name() == "SGD");
    CHECK(get<float>("rmsprop")->name() == "RMSprop");
    CHECK(get<float>("adamw")->name() == "AdamW");
    CHECK_THAT(error_of([] { (void)get<float>("adagrad"); }), Catch::Matchers::Contains("adagrad"));

    const Adam<double> original({.learning_rate = schedules::ExponentialDecay<double>(0.1, 10, 0.5, true),
                                 .beta_1 = 0.8,
                                 .amsgrad = true,
                                 .clipnorm = 2.0});
    const auto copy = from_config<double>(original.name(), original.get_config());
    auto& back = dynamic_cast<Adam<double>&>(*copy);
    CHECK(back.beta_1() == 0.8);
    CHECK(back.amsgrad());
    CHECK(back.clipnorm() == 2.0);
    REQUIRE(back.learning_rate().is_schedule());
    back.set_iterations(25);
    CHECK(back.current_learning_rate() == Approx(0.025));
    const SGD<double> piecewise({.learning_rate = schedules::PiecewiseConstantDecay<double>({5}, {0.3, 0.1})});
    const auto copy2 = from_config<double>("SGD", piecewise.get_config());
    copy2->set_iterations(6);
    CHECK(copy2->current_learning_rate() == 0.1);
    const RMSprop<double> cos({.learning_rate = schedules::CosineDecay<double>(0.2, 10, 0.5), .centered = true});
    const auto copy3 = from_config<double>("RMSprop", cos.get_config());
    copy3->set_iterations(10);
    CHECK(copy3->current_learning_rate() == Approx(0.1));
    CHECK(dynamic_cast<RMSprop<double>&>(*copy3).centered());
    const SGD<double> warm({.learning_rate = schedules::CosineDecay<double>(0.0, 100, 0.0, 0.2, 10)});
    const auto copy4 = from_config<double>("SGD", warm.get_config());
    copy4->set_iterations(5);
    CHECK(copy4->current_learning_rate() == Approx(0.1));
}
