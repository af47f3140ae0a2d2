// Flatten, Dropout, Activation (every activation), Rescaling and Input: forward values, gradient checks in
// double, backward accumulation, configs and argument errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "lumen/core/threads.hpp"
#include "lumen/kernels/activations.hpp"
#include "lumen/layers/Activation.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "support/gradcheck.hpp"

using namespace lumen;
using Catch::Contains;

namespace {
const char* const kActivations[] = {"linear", "relu",  "sigmoid", "tanh", "softmax",
                                    "leaky_relu", "elu", "gelu", "swish"};

// Uniform in +-[0.05, 2]: away from relu's and leaky_relu's kink at 0, which central differences cannot see.
Tensor<double> away_from_zero(const Shape& shape, Generator& g) {
    Tensor<double> t(shape);
    for (auto& v : t) v = (g.uniform() < 0.5 ? -1 : 1) * g.uniform(0.05, 2.0);
    return t;
}
}  // namespace

// ---------------------------------------------------------------------------------------------------- Flatten

TEST_CASE("Flatten orders features row-major over (h, w, c) and reshapes gradients back", "[flatten]") {
    layers::Flatten<float> f;
    CHECK(f.build(Shape{3, 4, 2}) == Shape{24});
    CHECK(f.class_name() == "Flatten");
    CHECK(f.count_params() == 0);
    Tensor<float> x(Shape{2, 3, 4, 2});
    for (index_t n = 0; n < 2; ++n)
        for (index_t h = 0; h < 3; ++h)
            for (index_t w = 0; w < 4; ++w)
                for (index_t c = 0; c < 2; ++c) x.at(n, h, w, c) = float(1000 * n + 100 * h + 10 * w + c);
    const Tensor<float> y = f.forward(x, false);
    REQUIRE(y.shape() == Shape{2, 24});
    for (index_t n = 0; n < 2; ++n)
        for (index_t h = 0; h < 3; ++h)
            for (index_t w = 0; w < 4; ++w)
                for (index_t c = 0; c < 2; ++c) CHECK(y.at(n, (h * 4 + w) * 2 + c) == x.at(n, h, w, c));
    const Tensor<float> dx = f.backward(y);
    CHECK(dx.shape() == x.shape());
    CHECK(std::equal(dx.begin(), dx.end(), x.begin()));

    layers::Flatten<double> fd;
    Generator g(2);
    test::check_layer_gradients(fd, test::random_tensor(Shape{3, 5, 3, 2}, g));
    layers::Flatten<double> f1;
    test::check_layer_gradients(f1, test::random_tensor(Shape{2, 7}, g));  // already flat: identity
    CHECK(f1.output_shape() == Shape{7});
}

TEST_CASE("Flatten errors and config", "[flatten][errors]") {
    layers::Flatten<float> f({.name = "flatten_2"});
    CHECK_THROWS_WITH(f.build(Shape{}), Contains("Flatten \"flatten_2\""));
    f.build(Shape{4, 4, 3});
    CHECK_THROWS_WITH(f.backward(Tensor<float>(Shape{2, 48})), Contains("before forward"));
    CHECK_THROWS_WITH(f.forward(Tensor<float>(Shape{2, 4, 4, 2}), false), Contains("(None, 4, 4, 3)"));
    auto r = layers::Flatten<float>::from_config(f.get_config());
    CHECK(r->name() == "flatten_2");
    CHECK(r->class_name() == "Flatten");
}

// ---------------------------------------------------------------------------------------------------- Dropout

TEST_CASE("Dropout is the identity at inference and with rate 0", "[dropout]") {
    Generator g(1);
    const Tensor<double> x = test::random_tensor(Shape{4, 5, 3}, g);
    layers::Dropout<double> d(0.5);
    d.build(Shape{5, 3}, 3);
    const Tensor<double> y = d.forward(x, false);
    CHECK(std::equal(y.begin(), y.end(), x.begin()));
    CHECK(d.mask().empty());
    const Tensor<double> dx = d.backward(y);
    CHECK(std::equal(dx.begin(), dx.end(), x.begin()));
    test::check_layer_gradients(d, x, {.training = false});

    layers::Dropout<double> zero(0.0);
    zero.build(Shape{5, 3}, 3);
    const Tensor<double> y0 = zero.forward(x, true);
    CHECK(std::equal(y0.begin(), y0.end(), x.begin()));
    test::check_layer_gradients(zero, x, {.training = true});
}

TEST_CASE("Dropout in training keeps units with probability 1 - rate and scales them by 1/(1 - rate)",
          "[dropout]") {
    for (double rate : {0.1, 0.2, 0.5, 0.9}) {
        INFO("rate " << rate);
        layers::Dropout<double> d(rate);
        d.build(Shape{1000}, 11);
        Generator g(4);
        Tensor<double> x(Shape{200, 1000});
        for (auto& v : x) v = g.uniform(0.5, 1.5);  // never 0, so a dropped unit shows as an exact 0
        const Tensor<double> y = d.forward(x, true);
        const Tensor<double> dy = test::random_tensor(y.shape(), g);
        const Tensor<double> dx = d.backward(dy);
        index_t kept = 0, wrong = 0;
        const double scale = 1.0 / (1.0 - rate);
        for (index_t i = 0; i < x.size(); ++i) {
            const bool keep = y[i] != 0;
            kept += keep;
            // The same forward's mask applies to the gradient: dx = dy * mask / (1 - rate).
            if (keep && !(std::abs(y[i] - x[i] * scale) < 1e-12 && std::abs(dx[i] - dy[i] * scale) < 1e-12)) ++wrong;
            if (!keep && dx[i] != 0) ++wrong;
            if (d.mask()[i] != (keep ? scale : 0.0)) ++wrong;
        }
        CHECK(wrong == 0);
        // 200000 Bernoulli draws: the keep fraction's stddev is at most 0.0012; allow 5 of them.
        const double fraction = double(kept) / double(x.size());
        CHECK(std::abs(fraction - (1 - rate)) < 0.006);
        // Each 64-bit draw decides two neighbouring units (its low and high halves): both halves keep at 1 - rate.
        index_t kept_even = 0;
        for (index_t i = 0; i < x.size(); i += 2) kept_even += y[i] != 0;
        CHECK(std::abs(double(kept_even) / double(x.size() / 2) - (1 - rate)) < 0.009);
        CHECK(std::abs(double(kept - kept_even) / double(x.size() / 2) - (1 - rate)) < 0.009);
        // An odd number of units: the last one, decided by a draw of its own, gets a mask too.
        layers::Dropout<double> odd(rate);
        odd.build(Shape{7}, 5);
        const Tensor<double> xo = test::random_tensor(Shape{3, 7}, g);
        const Tensor<double> yo = odd.forward(xo, true);
        for (index_t i = 0; i < xo.size(); ++i) {
            INFO("unit " << i);
            CHECK((odd.mask()[i] == 0.0 || odd.mask()[i] == scale));
            CHECK(yo[i] == xo[i] * odd.mask()[i]);
        }
        // ... and is kept at the same rate: 2000 batches of 21 units, the last one counted (stddev <= 0.0112).
        index_t last_kept = 0;
        for (int rep = 0; rep < 2000; ++rep) {
            odd.forward(xo, true);
            last_kept += odd.mask()[xo.size() - 1] != 0.0;
        }
        CHECK(std::abs(double(last_kept) / 2000 - (1 - rate)) < 0.06);
        // The expected output equals the input: the mean ratio y/x is close to 1.
        double ratio = 0;
        for (index_t i = 0; i < x.size(); ++i) ratio += y[i] / x[i];
        CHECK(ratio / double(x.size()) == Approx(1.0).margin(0.02));
    }
}

TEST_CASE("Dropout masks come from the layer's seed: same seed same masks, new masks every batch", "[dropout]") {
    Tensor<float> x(Shape{8, 64}, 1.0f);
    layers::Dropout<float> a(0.3), b(0.3), c(0.3);
    a.build(Shape{64}, 5);
    b.build(Shape{64}, 5);
    c.build(Shape{64}, 6);
    const Tensor<float> ya1 = a.forward(x, true), yb1 = b.forward(x, true), yc1 = c.forward(x, true);
    const Tensor<float> ya2 = a.forward(x, true), yb2 = b.forward(x, true);
    CHECK(std::equal(ya1.begin(), ya1.end(), yb1.begin()));
    CHECK(std::equal(ya2.begin(), ya2.end(), yb2.begin()));
    CHECK(!std::equal(ya1.begin(), ya1.end(), ya2.begin()));
    CHECK(!std::equal(ya1.begin(), ya1.end(), yc1.begin()));
    // Masks do not depend on the thread count, also when the units span several chunks (streams) of the layer.
    const Tensor<float> big(Shape{8, 3 * layers::Dropout<float>::kChunk / 8 + 5}, 1.0f);  // 3 chunks and 40 units more
    const int saved = num_threads();
    set_num_threads(1);
    layers::Dropout<float> d1(0.3);
    d1.build(big.shape().without_batch(), 5);
    const Tensor<float> y1 = d1.forward(big, true);
    set_num_threads(2);
    layers::Dropout<float> d2(0.3);
    d2.build(big.shape().without_batch(), 5);
    const Tensor<float> y2 = d2.forward(big, true);
    set_num_threads(saved);
    CHECK(std::equal(y1.begin(), y1.end(), y2.begin()));
    // ... and the chunks are different streams: two chunks' masks differ.
    const index_t chunk = layers::Dropout<float>::kChunk;
    CHECK(!std::equal(y1.begin(), y1.begin() + chunk, y1.begin() + chunk));
}

TEST_CASE("Dropout errors and config", "[dropout][errors]") {
    CHECK_THROWS_WITH(layers::Dropout<float>(1.0, {.name = "dropout_1"}),
                      Contains("Dropout \"dropout_1\"") && Contains("rate") && Contains("[0, 1)"));
    CHECK_THROWS_WITH(layers::Dropout<float>(-0.1), Contains("rate"));
    CHECK_THROWS_WITH(layers::Dropout<float>(1.5), Contains("1.5"));
    CHECK_THROWS_AS(layers::Dropout<float>(std::nan("")), Error);
    CHECK_NOTHROW(layers::Dropout<float>(0.0));
    CHECK_NOTHROW(layers::Dropout<float>(0.999));
    layers::Dropout<float> d(0.2, {.name = "dropout"});
    CHECK(d.build(Shape{7, 7, 3}) == Shape{7, 7, 3});
    CHECK(d.count_params() == 0);
    CHECK_THROWS_WITH(d.backward(Tensor<float>(Shape{1, 7, 7, 3})), Contains("before forward"));
    const Config cfg = d.get_config();
    CHECK(config_value(cfg, "rate", "t") == "0.20000000000000001");
    auto r = layers::Dropout<float>::from_config(cfg);
    CHECK(r->get_config() == cfg);
    CHECK(dynamic_cast<layers::Dropout<float>*>(r.get())->rate() == 0.2);
}

// ------------------------------------------------------------------------------------------------- Activation

TEST_CASE("Activation gradients match central differences for every activation", "[activation][gradcheck]") {
    const int saved = num_threads();
    int index = 0;
    for (const char* act : kActivations) {
        for (const Shape& s : {Shape{3, 7}, Shape{2, 3, 5, 4}, Shape{1, 1}}) {
            layers::Activation<double> a(act);
            Generator g(300 + index);
            const Tensor<double> x = away_from_zero(s, g);
            INFO("activation " << act << " on " << s.to_string());
            test::check_layer_gradients(a, x, {.seed = std::uint64_t(index + 1)});
            ++index;
        }
        // Large enough for the kernels' threaded path (>= 2^15 elements), with 2 threads, sampled.
        set_num_threads(2);
        layers::Activation<double> big(act);
        Generator g(17);
        test::check_layer_gradients(big, away_from_zero(Shape{4, 128, 70}, g), {.max_elements = 60});
        set_num_threads(saved);
    }
}

TEST_CASE("Activation forward values follow Keras' formulas", "[activation]") {
    auto f = [](const char* name, double x) {
        layers::Activation<double> a(name);
        a.build(Shape{1});
        return a.forward(Tensor<double>(Shape{1, 1}, x), false)[0];
    };
    CHECK(f("relu", -2.0) == 0.0);
    CHECK(f("relu", 1.5) == 1.5);
    CHECK(f("sigmoid", 0.0) == 0.5);
    CHECK(f("sigmoid", 2.0) == Approx(1 / (1 + std::exp(-2.0))).epsilon(1e-14));
    CHECK(f("sigmoid", -800.0) == 0.0);  // stable far out: no NaN
    CHECK(f("sigmoid", 800.0) == 1.0);
    CHECK(f("tanh", 0.7) == Approx(std::tanh(0.7)).epsilon(1e-14));
    CHECK(f("leaky_relu", -1.0) == Approx(-0.2));  // Keras' negative_slope default 0.2
    CHECK(f("leaky_relu", 3.0) == 3.0);
    CHECK(f("elu", -1.0) == Approx(std::exp(-1.0) - 1).epsilon(1e-14));
    CHECK(f("elu", 2.0) == 2.0);
    CHECK(f("gelu", 1.0) == Approx(0.8413447460685429).epsilon(1e-12));  // exact gelu: x * Phi(x)
    CHECK(f("gelu", -1.0) == Approx(-0.15865525393145707).epsilon(1e-12));
    CHECK(f("swish", 1.0) == Approx(1.0 / (1 + std::exp(-1.0))).epsilon(1e-14));
    CHECK(f("linear", -3.25) == -3.25);
    CHECK(f("softmax", 5.0) == 1.0);  // one class

    layers::Activation<double> sm("softmax");
    sm.build(Shape{2, 3});
    Tensor<double> x(Shape{1, 2, 3}, std::vector<double>{1000, 1001, 1002, -1, 0, 1});  // max-subtracted: no overflow
    const Tensor<double> y = sm.forward(x, false);
    const double e = std::exp(1.0), z = 1 + e + e * e;
    for (int row = 0; row < 2; ++row) {
        CHECK(y[row * 3 + 0] == Approx(1 / z).epsilon(1e-14));
        CHECK(y[row * 3 + 1] == Approx(e / z).epsilon(1e-14));
        CHECK(y[row * 3 + 2] == Approx(e * e / z).epsilon(1e-14));
    }
}

TEST_CASE("Activation: ReLU's gradient at exactly 0 is 0, as in TF", "[activation]") {
    layers::Activation<float> r("relu");
    r.build(Shape{3});
    r.forward(Tensor<float>(Shape{1, 3}, std::vector<float>{-1, 0, 1}), true);
    const Tensor<float> dx = r.backward(Tensor<float>(Shape{1, 3}, 1.0f));
    CHECK(dx[0] == 0.0f);
    CHECK(dx[1] == 0.0f);
    CHECK(dx[2] == 1.0f);
}

TEST_CASE("Activation names, errors and config", "[activation][errors]") {
    CHECK_THROWS_WITH(layers::Activation<float>("rellu", {.name = "activation_3"}),
                      Contains("Activation \"activation_3\"") && Contains("rellu"));
    CHECK_THROWS_AS(layers::Activation<float>("Softmax"), Error);
    CHECK(layers::Activation<float>("silu").activation() == kernels::ActivationFn::swish);
    CHECK(layers::Activation<float>("").activation() == kernels::ActivationFn::linear);
    layers::Activation<float> a("gelu", {.name = "act"});
    CHECK(a.build(Shape{4, 4, 2}) == Shape{4, 4, 2});
    CHECK(a.count_params() == 0);
    CHECK(a.class_name() == "Activation");
    CHECK_THROWS_WITH(a.backward(Tensor<float>(Shape{1, 4, 4, 2})), Contains("before forward"));
    auto r = layers::Activation<float>::from_config(a.get_config());
    CHECK(r->get_config() == a.get_config());
    CHECK(config_value(r->get_config(), "activation", "t") == "gelu");
    for (const char* name : kActivations)
        CHECK(kernels::activation_name(kernels::activation_from_name(name)) == name);
}

// -------------------------------------------------------------------------------------------------- Rescaling

TEST_CASE("Rescaling computes x * scale + offset and dx = scale * dy", "[rescaling]") {
    layers::Rescaling<float> r(1.0 / 255);
    CHECK(r.build(Shape{2, 2, 3}) == Shape{2, 2, 3});
    CHECK(r.count_params() == 0);
    CHECK(r.class_name() == "Rescaling");
    Tensor<float> x(Shape{1, 2, 2, 3}, 255.0f);
    x[0] = 0;
    const Tensor<float> y = r.forward(x, false);
    CHECK(y[0] == 0.0f);
    CHECK(y[1] == Approx(1.0f));
    layers::Rescaling<double> m(1.0 / 127.5, -1);
    m.build(Shape{3});
    const Tensor<double> ym = m.forward(Tensor<double>(Shape{1, 3}, std::vector<double>{0, 127.5, 255}), false);
    CHECK(ym[0] == Approx(-1.0));
    CHECK(ym[1] == Approx(0.0).margin(1e-15));
    CHECK(ym[2] == Approx(1.0));
    const Tensor<double> dx = m.backward(Tensor<double>(Shape{1, 3}, 2.0));
    for (double v : dx) CHECK(v == Approx(2.0 / 127.5));

    layers::Rescaling<double> g(-0.75, 0.5);
    Generator rng(3);
    test::check_layer_gradients(g, test::random_tensor(Shape{2, 4, 3, 2}, rng));
}

TEST_CASE("Rescaling errors and config", "[rescaling][errors]") {
    CHECK_THROWS_WITH(layers::Rescaling<float>(std::nan(""), 0, {.name = "rescaling"}),
                      Contains("Rescaling \"rescaling\"") && Contains("scale"));
    CHECK_THROWS_AS(layers::Rescaling<float>(1, INFINITY), Error);
    layers::Rescaling<float> r(1.0 / 255, 0, {.name = "rescaling_1"});
    const Config cfg = r.get_config();
    CHECK(config_value(cfg, "scale", "t") == "0.0039215686274509803");
    CHECK(config_value(cfg, "offset", "t") == "0");
    auto back = layers::Rescaling<float>::from_config(cfg);
    CHECK(back->get_config() == cfg);
    CHECK(dynamic_cast<layers::Rescaling<float>*>(back.get())->scale() == 1.0 / 255);  // round-trip exact
    r.build(Shape{4});
    CHECK_THROWS_WITH(r.backward(Tensor<float>(Shape{1, 4})), Contains("before forward"));
}

// ------------------------------------------------------------------------------------------------------ Input

TEST_CASE("Input carries the shape and passes data through", "[input]") {
    layers::Input<float> in({180, 180, 3});
    CHECK(in.class_name() == "InputLayer");
    CHECK(in.shape() == Shape{180, 180, 3});
    CHECK(in.build(in.shape()) == Shape{180, 180, 3});
    CHECK(in.count_params() == 0);
    CHECK(in.weights().empty());
    layers::Input<double> small({2, 3});
    small.build(Shape{2, 3});
    Generator g(1);
    const Tensor<double> x = test::random_tensor(Shape{4, 2, 3}, g);
    const Tensor<double> y = small.forward(x, true);
    CHECK(std::equal(y.begin(), y.end(), x.begin()));
    const Tensor<double> dx = small.backward(x);
    CHECK(std::equal(dx.begin(), dx.end(), x.begin()));
    test::check_layer_gradients(small, x);
}

TEST_CASE("Input errors and config", "[input][errors]") {
    CHECK_THROWS_WITH(layers::Input<float>({28, 0, 1}, {.name = "input_1"}),
                      Contains("InputLayer \"input_1\"") && Contains("(None, 28, 0, 1)"));
    layers::Input<float> in({28, 28, 1}, {.name = "input_1"});
    CHECK_THROWS_WITH(in.build(Shape{28, 28, 3}), Contains("(None, 28, 28, 3)") && Contains("(None, 28, 28, 1)"));
    in.build(Shape{28, 28, 1});
    CHECK_THROWS_WITH(in.forward(Tensor<float>(Shape{2, 28, 28}), false), Contains("(None, 28, 28, 1)"));
    const Config cfg = in.get_config();
    CHECK(config_value(cfg, "batch_input_shape", "t") == "(None, 28, 28, 1)");
    auto r = layers::Input<float>::from_config(cfg);
    CHECK(r->name() == "input_1");
    CHECK(dynamic_cast<layers::Input<float>*>(r.get())->shape() == Shape{28, 28, 1});
    CHECK(dynamic_cast<layers::Input<float>*>(
              layers::Input<float>::from_config({{"name", "x"}, {"batch_input_shape", "[null, 7]"}}).get())
              ->shape() == Shape{7});
    CHECK_THROWS_AS(layers::Input<float>::from_config({{"name", "x"}, {"batch_input_shape", "(None, a)"}}), Error);
}
