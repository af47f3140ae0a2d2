// Dense: gradient checks in double for every activation (with and without bias, 1 and 2 threads), backward
// accumulation, batch-mean gradients, the GEMM against a plain loop, Keras shapes and parameter counts,
// initialisers and regularizer, config round trip and argument errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "lumen/core/threads.hpp"
#include "lumen/layers/Dense.hpp"
#include "support/gradcheck.hpp"

using namespace lumen;
using layers::Dense;

namespace {
const char* const kActivations[] = {"linear", "relu",  "sigmoid", "tanh", "softmax",
                                    "leaky_relu", "elu", "gelu", "swish"};
}  // namespace

TEST_CASE("Dense input and parameter gradients match central differences", "[dense][gradcheck]") {
    const int saved = num_threads();
    int index = 0;
    for (const char* act : kActivations) {
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            Generator g(200 + index);
            const index_t n = 1 + index_t(g.below(5)), in = 1 + index_t(g.below(9)), units = 1 + index_t(g.below(7));
            Dense<double> dense(units, {.activation = act,
                                        .use_bias = index % 4 != 3,
                                        .bias_initializer = "glorot_uniform"});  // non-zero, so the bias matters
            const Tensor<double> x = test::random_tensor(Shape{n, in}, g);
            INFO("activation " << act << " threads " << threads << " x " << x.shape().to_string() << " units "
                               << units);
            test::check_layer_gradients(dense, x, {.seed = std::uint64_t(index + 1)});
            ++index;
        }
    }
    // A wider layer, sampled positions.
    set_num_threads(2);
    Generator g(3);
    Dense<double> wide(37, {.activation = "tanh", .bias_initializer = "glorot_uniform"});
    test::check_layer_gradients(wide, test::random_tensor(Shape{6, 53}, g));
    set_num_threads(saved);
}

TEST_CASE("Dense backward adds into the weight gradients", "[dense]") {
    for (const char* act : {"linear", "relu", "gelu", "softmax"}) {
        Dense<double> dense(4, {.activation = act, .bias_initializer = "glorot_uniform"});
        Generator g(5);
        test::check_backward_accumulates(dense, test::random_tensor(Shape{3, 6}, g));
    }
}

TEST_CASE("Dense without an input gradient gives the same weight gradients and an empty dx", "[dense]") {
    Dense<double> dense(3, {.activation = "gelu", .bias_initializer = "glorot_uniform"});
    dense.build(Shape{5}, 3);
    Generator g(12);
    const Tensor<double> x = test::random_tensor(Shape{4, 5}, g);
    const Tensor<double> dy = test::random_tensor(Shape{4, 3}, g);
    dense.zero_grad();
    dense.forward(x, true);
    CHECK(!dense.backward(dy).empty());
    const Tensor<double> dw = dense.kernel().grad, db = dense.bias().grad;
    dense.zero_grad();
    dense.set_input_gradient_needed(false);
    dense.forward(x, true);
    CHECK(dense.backward(dy).empty());
    for (index_t i = 0; i < dw.size(); ++i) CHECK(dense.kernel().grad[i] == dw[i]);
    for (index_t i = 0; i < db.size(); ++i) CHECK(dense.bias().grad[i] == db[i]);
}

TEST_CASE("Dense gradients of a batch doubled by a copy, with halved upstream gradients, are unchanged", "[dense]") {
    Dense<double> dense(3, {.activation = "swish"});
    dense.build(Shape{5}, 3);
    Generator g(9);
    const Tensor<double> x = test::random_tensor(Shape{2, 5}, g);
    const Tensor<double> dy = test::random_tensor(Shape{2, 3}, g);
    Tensor<double> x2(Shape{4, 5}), dy2(Shape{4, 3});
    for (index_t i = 0; i < x.size(); ++i) x2[i] = x2[i + x.size()] = x[i];
    for (index_t i = 0; i < dy.size(); ++i) dy2[i] = dy2[i + dy.size()] = dy[i] / 2;
    dense.zero_grad();
    dense.forward(x, true);
    dense.backward(dy);
    const Tensor<double> dw = dense.kernel().grad, db = dense.bias().grad;
    dense.zero_grad();
    dense.forward(x2, true);
    dense.backward(dy2);
    for (index_t i = 0; i < dw.size(); ++i) CHECK(dense.kernel().grad[i] == Approx(dw[i]).margin(1e-12));
    for (index_t i = 0; i < db.size(); ++i) CHECK(dense.bias().grad[i] == Approx(db[i]).margin(1e-12));
}

TEST_CASE("Dense forward and backward in float match a plain loop, with 1 and 2 threads", "[dense]") {
    const int saved = num_threads();
    Generator g(17);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        const index_t n = 67, in = 130, units = 41;  // big enough for Eigen's blocked product
        Dense<float> dense(units, {.bias_initializer = "glorot_uniform"});
        dense.build(Shape{in}, 1);
        Tensor<float> x(Shape{n, in}), dy(Shape{n, units});
        for (auto& v : x) v = float(g.uniform(-1, 1));
        for (auto& v : dy) v = float(g.uniform(-1, 1));
        const Tensor<float> y = dense.forward(x, true);
        dense.zero_grad();
        const Tensor<float> dx = dense.backward(dy);
        const auto& W = dense.kernel().value;
        const auto& b = dense.bias().value;
        double worst = 0;
        for (index_t i = 0; i < n; ++i)
            for (index_t j = 0; j < units; ++j) {
                double s = b[j];
                for (index_t k = 0; k < in; ++k) s += double(x.at(i, k)) * W.at(k, j);
                worst = std::max(worst, std::abs(s - y.at(i, j)));
            }
        for (index_t i = 0; i < n; ++i)
            for (index_t k = 0; k < in; ++k) {
                double s = 0;
                for (index_t j = 0; j < units; ++j) s += double(dy.at(i, j)) * W.at(k, j);
                worst = std::max(worst, std::abs(s - dx.at(i, k)));
            }
        for (index_t k = 0; k < in; ++k)
            for (index_t j = 0; j < units; ++j) {
                double s = 0;
                for (index_t i = 0; i < n; ++i) s += double(x.at(i, k)) * dy.at(i, j);
                worst = std::max(worst, std::abs(s - dense.kernel().grad.at(k, j)));
            }
        for (index_t j = 0; j < units; ++j) {
            double s = 0;
            for (index_t i = 0; i < n; ++i) s += dy.at(i, j);
            worst = std::max(worst, std::abs(s - dense.bias().grad[j]));
        }
        INFO("threads " << threads);
        CHECK(worst < 1e-4);
    }
    set_num_threads(saved);
}

TEST_CASE("Dense shapes, weights and parameter counts follow Keras", "[dense]") {
    // The flowers model: Dense(128) after Flatten of (22, 22, 64), then Dense(5).
    Dense<float> d1(128, {.activation = "relu"});
    CHECK(d1.build(Shape{30976}) == Shape{128});
    CHECK(d1.count_params() == 3965056);
    CHECK(d1.kernel().value.shape() == Shape{30976, 128});
    CHECK(d1.bias().value.shape() == Shape{128});
    Dense<float> d2(5);
    CHECK(d2.build(Shape{128}) == Shape{5});
    CHECK(d2.count_params() == 645);
    REQUIRE(d2.weights().size() == 2);
    CHECK(d2.weights()[0]->name == "kernel");
    CHECK(d2.weights()[1]->name == "bias");
    CHECK(d2.weights()[0]->trainable);
    Dense<float> nb(7, {.use_bias = false});
    nb.build(Shape{3});
    CHECK(nb.count_params() == 21);
    CHECK(nb.weights().size() == 1);
    CHECK(d2.class_name() == "Dense");
    const Tensor<float> y = d2.forward(Tensor<float>(Shape{4, 128}, 1.0f), false);
    CHECK(y.shape() == Shape{4, 5});
}

TEST_CASE("Dense initialisers and kernel regularizer are honoured", "[dense]") {
    Dense<double> d(128);  // glorot_uniform: limit sqrt(6 / (30976 + 128)) = 0.013889 (keras-reference §5)
    d.build(Shape{30976}, 11);
    double biggest = 0;
    for (double v : d.kernel().value) biggest = std::max(biggest, std::abs(v));
    CHECK(biggest <= 0.0138889);
    CHECK(biggest > 0.0138);
    for (double v : d.bias().value) CHECK(v == 0.0);

    Dense<float> c(4, {.kernel_initializer = "ones", .bias_initializer = constant(0.25),
                       .kernel_regularizer = regularizers::l2(0.001)});
    c.build(Shape{3});
    for (float v : c.kernel().value) CHECK(v == 1.0f);
    for (float v : c.bias().value) CHECK(v == 0.25f);
    CHECK(c.kernel().regularizer.l2 == 0.001);
    CHECK(c.kernel().regularizer.l1 == 0.0);
    CHECK(!c.bias().regularizer.active());

    // The same seed gives the same weights; another seed other weights.
    Dense<float> a1(5), a2(5), a3(5);
    a1.build(Shape{6}, 42);
    a2.build(Shape{6}, 42);
    a3.build(Shape{6}, 43);
    CHECK(std::equal(a1.kernel().value.begin(), a1.kernel().value.end(), a2.kernel().value.begin()));
    CHECK(!std::equal(a1.kernel().value.begin(), a1.kernel().value.end(), a3.kernel().value.begin()));
}

TEST_CASE("Dense fuses its activation: softmax rows sum to one, relu clips", "[dense]") {
    Dense<double> s(6, {.activation = "softmax", .bias_initializer = "glorot_uniform"});
    s.build(Shape{4}, 5);
    Generator g(1);
    const Tensor<double> y = s.forward(test::random_tensor(Shape{3, 4}, g, -3, 3), false);
    for (index_t i = 0; i < 3; ++i) {
        double sum = 0;
        for (index_t j = 0; j < 6; ++j) {
            CHECK(y.at(i, j) > 0);
            sum += y.at(i, j);
        }
        CHECK(sum == Approx(1.0).margin(1e-12));
    }
    Dense<double> r(6, {.activation = "relu"});
    Dense<double> l(6);
    r.build(Shape{4}, 5);
    l.build(Shape{4}, 5);
    const Tensor<double> x = test::random_tensor(Shape{3, 4}, g);
    const Tensor<double> yr = r.forward(x, false), yl = l.forward(x, false);
    for (index_t i = 0; i < yr.size(); ++i) CHECK(yr[i] == std::max(0.0, yl[i]));
}

TEST_CASE("Dense config round trip rebuilds the same layer", "[dense]") {
    Dense<float> d(12, {.activation = "silu", .use_bias = false, .kernel_initializer = "he_normal",
                        .bias_initializer = constant(0.1), .kernel_regularizer = regularizers::l1_l2(0.25, 0.1),
                        .name = "dense_7"});
    const Config cfg = d.get_config();
    CHECK(config_value(cfg, "units", "t") == "12");
    CHECK(config_value(cfg, "activation", "t") == "swish");
    CHECK(config_value(cfg, "use_bias", "t") == "false");
    CHECK(config_value(cfg, "kernel_initializer", "t") == "he_normal");
    CHECK(config_value(cfg, "bias_initializer", "t") == "constant(0.10000000000000001)");
    auto r = Dense<float>::from_config(cfg);
    CHECK(r->get_config() == cfg);
    CHECK(r->name() == "dense_7");
    auto* rd = dynamic_cast<Dense<float>*>(r.get());
    REQUIRE(rd != nullptr);
    CHECK(rd->units() == 12);
    CHECK(rd->options().kernel_regularizer.l1 == 0.25);
    CHECK(rd->options().kernel_regularizer.l2 == 0.1);
    CHECK(rd->options().bias_initializer.value == 0.1);
    CHECK_THROWS_AS(Dense<float>::from_config({{"name", "x"}}), Error);
}

TEST_CASE("Dense rejects bad arguments with a message naming the layer", "[dense][errors]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(Dense<float>(0, {.name = "d"}), Contains("Dense \"d\"") && Contains("units"));
    CHECK_THROWS_WITH(Dense<float>(-3, {.name = "d"}), Contains("Dense \"d\"") && Contains("-3"));
    CHECK_THROWS_WITH(Dense<float>(3, {.activation = "rellu", .name = "d"}),
                      Contains("Dense \"d\"") && Contains("rellu"));
    CHECK_THROWS_WITH(Dense<float>(3, {.kernel_initializer = "glorot", .name = "d"}),
                      Contains("Dense \"d\"") && Contains("kernel_initializer") && Contains("glorot"));
    CHECK_THROWS_WITH(Dense<float>(3, {.bias_initializer = "nope", .name = "d"}),
                      Contains("bias_initializer") && Contains("nope"));
    CHECK_THROWS_WITH(Dense<float>(3, {.kernel_regularizer = {-1, 0}, .name = "d"}), Contains("kernel_regularizer"));

    // The required message: Dense straight after a Conv2D output.
    Dense<float> after_conv(128, {.name = "dense_1"});
    CHECK_THROWS_WITH(after_conv.build(Shape{22, 22, 64}),
                      "Dense \"dense_1\": expects rank-2 input (batch, features), got (None, 22, 22, 64); "
                      "add Flatten before it");
    CHECK_THROWS_WITH(after_conv.build(Shape{}), Contains("dense_1") && Contains("(None)"));
    CHECK_THROWS_WITH(after_conv.build(Shape{0}), Contains("(None, 0)"));

    Dense<float> ok(4, {.name = "dense"});
    ok.build(Shape{3});
    CHECK_THROWS_WITH(ok.forward(Tensor<float>(Shape{2, 5}), false), Contains("(None, 3)") && Contains("(2, 5)"));
    CHECK_THROWS_WITH(ok.backward(Tensor<float>(Shape{2, 4})), Contains("before forward"));
    ok.forward(Tensor<float>(Shape{2, 3}), false);
    CHECK_THROWS_WITH(ok.backward(Tensor<float>(Shape{2, 5})), Contains("(2, 4)"));
}
