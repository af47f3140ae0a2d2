// BatchNormalization: Keras' weights and parameter counts, training forward against a plain double reference,
// the moving-statistics update (Bessel-corrected on 4-D inputs as tf.keras 2.x), inference mode, frozen layers,
// gradient checks in double in both modes (through the batch statistics in training), accumulation, config
// and argument errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "lumen/core/threads.hpp"
#include "lumen/layers/BatchNormalization.hpp"
#include "support/gradcheck.hpp"

using namespace lumen;
using layers::BatchNormalization;
using Catch::Contains;

namespace {

// gamma, beta, moving stats set to random values so every term of the maths matters.
void randomise(BatchNormalization<double>& bn, Generator& g) {
    if (bn.options().scale) for (auto& v : bn.gamma().value) v = g.uniform(0.5, 1.5);
    if (bn.options().center) for (auto& v : bn.beta().value) v = g.uniform(-0.5, 0.5);
    for (auto& v : bn.moving_mean().value) v = g.uniform(-0.3, 0.3);
    for (auto& v : bn.moving_variance().value) v = g.uniform(0.5, 2.0);
}

// Per-channel mean and biased variance of x viewed as (m, C), in double.
void moments(const Tensor<double>& x, index_t C, std::vector<double>& mean, std::vector<double>& var) {
    const index_t m = x.size() / C;
    mean.assign(std::size_t(C), 0);
    var.assign(std::size_t(C), 0);
    for (index_t r = 0; r < m; ++r)
        for (index_t c = 0; c < C; ++c) mean[std::size_t(c)] += x[r * C + c] / double(m);
    for (index_t r = 0; r < m; ++r)
        for (index_t c = 0; c < C; ++c) {
            const double d = x[r * C + c] - mean[std::size_t(c)];
            var[std::size_t(c)] += d * d / double(m);
        }
}

}  // namespace

TEST_CASE("BatchNormalization weights and parameter counts follow Keras", "[batchnorm]") {
    BatchNormalization<float> bn;
    CHECK(bn.class_name() == "BatchNormalization");
    CHECK(bn.build(Shape{45, 45, 64}) == Shape{45, 45, 64});
    CHECK(bn.count_params() == 4 * 64);
    auto w = bn.weights();
    REQUIRE(w.size() == 4);
    CHECK(w[0]->name == "gamma");
    CHECK(w[1]->name == "beta");
    CHECK(w[2]->name == "moving_mean");
    CHECK(w[3]->name == "moving_variance");
    index_t trainable = 0;
    for (auto* p : w)
        if (p->trainable) trainable += p->value.size();
    CHECK(trainable == 2 * 64);
    CHECK(!w[2]->trainable);
    CHECK(!w[3]->trainable);
    CHECK(w[2]->grad.empty());
    CHECK(w[3]->grad.empty());
    CHECK(w[0]->grad.shape() == Shape{64});
    for (float v : bn.gamma().value) CHECK(v == 1.0f);
    for (float v : bn.beta().value) CHECK(v == 0.0f);
    for (float v : bn.moving_mean().value) CHECK(v == 0.0f);
    for (float v : bn.moving_variance().value) CHECK(v == 1.0f);

    BatchNormalization<float> no_center({.center = false});
    no_center.build(Shape{10});
    CHECK(no_center.count_params() == 30);
    CHECK(no_center.weights()[0]->name == "gamma");
    BatchNormalization<float> bare({.center = false, .scale = false});
    bare.build(Shape{10});
    CHECK(bare.count_params() == 20);
    CHECK(bare.weights()[0]->name == "moving_mean");
    BatchNormalization<float> no_scale({.scale = false});
    no_scale.build(Shape{3, 3, 2});
    CHECK(no_scale.weights()[0]->name == "beta");
    CHECK(no_scale.count_params() == 6);
}

TEST_CASE("BatchNormalization training forward normalises with batch statistics", "[batchnorm]") {
    for (const Shape& s : {Shape{6, 5, 4, 3}, Shape{9, 7}}) {
        BatchNormalization<double> bn;
        bn.build(s.without_batch(), 1);
        Generator g(2);
        randomise(bn, g);
        const Tensor<double> x = test::random_tensor(s, g, -2, 3);
        const index_t C = s.dim(-1), m = x.size() / C;
        std::vector<double> mean, var;
        moments(x, C, mean, var);
        const Tensor<double> y = bn.forward(x, true);
        double worst = 0;
        for (index_t r = 0; r < m; ++r)
            for (index_t c = 0; c < C; ++c) {
                const std::size_t k = std::size_t(c);
                const double want = bn.gamma().value[c] * (x[r * C + c] - mean[k]) / std::sqrt(var[k] + 1e-3) +
                                    bn.beta().value[c];
                worst = std::max(worst, std::abs(want - y[r * C + c]));
            }
        INFO("input " << s.to_string());
        CHECK(worst < 1e-12);
    }
}

TEST_CASE("BatchNormalization moving statistics: momentum 0.99, Bessel-corrected variance on 4-D inputs",
          "[batchnorm]") {
    Generator g(3);
    {
        // Images (tf.keras 2.x fused kernel): moving_variance takes var * m / (m - 1).
        BatchNormalization<double> bn;
        bn.build(Shape{4, 3, 2}, 1);
        CHECK(bn.bessel_corrected_moving_variance());
        const Tensor<double> x = test::random_tensor(Shape{5, 4, 3, 2}, g, -1, 2);
        std::vector<double> mean, var;
        moments(x, 2, mean, var);
        const double m = 5 * 4 * 3;
        bn.forward(x, true);
        for (index_t c = 0; c < 2; ++c) {
            CHECK(bn.moving_mean().value[c] == Approx(0.01 * mean[std::size_t(c)]).epsilon(1e-12));
            CHECK(bn.moving_variance().value[c] ==
                  Approx(0.99 + 0.01 * var[std::size_t(c)] * m / (m - 1)).epsilon(1e-12));
        }
        // A second step moves from there.
        const double mm1 = bn.moving_mean().value[0], mv1 = bn.moving_variance().value[0];
        bn.forward(x, true);
        CHECK(bn.moving_mean().value[0] == Approx(0.99 * mm1 + 0.01 * mean[0]).epsilon(1e-12));
        CHECK(bn.moving_variance().value[0] == Approx(0.99 * mv1 + 0.01 * var[0] * m / (m - 1)).epsilon(1e-12));
    }
    {
        // Features after Dense (tf.keras 2.x non-fused path): the biased variance; custom momentum.
        BatchNormalization<double> bn({.momentum = 0.9});
        bn.build(Shape{3}, 1);
        CHECK(!bn.bessel_corrected_moving_variance());
        const Tensor<double> x = test::random_tensor(Shape{8, 3}, g, -1, 2);
        std::vector<double> mean, var;
        moments(x, 3, mean, var);
        bn.forward(x, true);
        for (index_t c = 0; c < 3; ++c) {
            CHECK(bn.moving_mean().value[c] == Approx(0.1 * mean[std::size_t(c)]).epsilon(1e-12));
            CHECK(bn.moving_variance().value[c] == Approx(0.9 + 0.1 * var[std::size_t(c)]).epsilon(1e-12));
        }
    }
    {
        // One value per channel (m = 1): no correction possible, variance 0.
        BatchNormalization<double> bn;
        bn.build(Shape{1, 1, 2}, 1);
        bn.forward(Tensor<double>(Shape{1, 1, 1, 2}, 3.0), true);
        CHECK(bn.moving_variance().value[0] == Approx(0.99));
        CHECK(bn.moving_mean().value[0] == Approx(0.03));
    }
}

TEST_CASE("BatchNormalization inference uses the moving statistics and leaves them alone", "[batchnorm]") {
    BatchNormalization<double> bn({.epsilon = 0.01});
    bn.build(Shape{3, 3, 4}, 1);
    Generator g(4);
    randomise(bn, g);
    const Tensor<double> mm = bn.moving_mean().value, mv = bn.moving_variance().value;
    const Tensor<double> x = test::random_tensor(Shape{2, 3, 3, 4}, g);
    const Tensor<double> y = bn.forward(x, false);
    for (index_t i = 0; i < x.size(); ++i) {
        const index_t c = i % 4;
        const double want = bn.gamma().value[c] * (x[i] - mm[c]) / std::sqrt(mv[c] + 0.01) + bn.beta().value[c];
        CHECK(y[i] == Approx(want).epsilon(1e-12));
    }
    CHECK(std::equal(mm.begin(), mm.end(), bn.moving_mean().value.begin()));
    CHECK(std::equal(mv.begin(), mv.end(), bn.moving_variance().value.begin()));

    // A frozen layer (trainable == false) runs in inference mode even when training, as tf.keras 2.x does.
    bn.set_trainable(false);
    const Tensor<double> yf = bn.forward(x, true);
    CHECK(std::equal(yf.begin(), yf.end(), y.begin()));
    CHECK(std::equal(mv.begin(), mv.end(), bn.moving_variance().value.begin()));
}

TEST_CASE("BatchNormalization gradients match central differences in training mode", "[batchnorm][gradcheck]") {
    const int saved = num_threads();
    struct Case {
        Shape shape;
        bool center, scale;
    };
    const Case cases[] = {{Shape{3, 4, 5, 2}, true, true}, {Shape{2, 3, 3, 5}, false, true},
                          {Shape{7, 4}, true, false},      {Shape{5, 3}, false, false},
                          {Shape{2, 5, 3}, true, true},     {Shape{2, 1, 1, 3}, true, true},
                          {Shape{3, 2, 2, 2, 2}, true, true}};
    int index = 0;
    for (const Case& k : cases) {
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            BatchNormalization<double> bn({.center = k.center, .scale = k.scale});
            bn.build(k.shape.without_batch(), 1);
            Generator g(400 + index);
            randomise(bn, g);
            INFO("input " << k.shape.to_string() << " center " << k.center << " scale " << k.scale << " threads "
                          << threads);
            test::check_layer_gradients(bn, test::random_tensor(k.shape, g, -1, 2),
                                        {.training = true, .seed = std::uint64_t(index + 1)});
            ++index;
        }
    }
    // Large enough for the threaded loops (>= 2^15 elements), sampled.
    set_num_threads(2);
    BatchNormalization<double> big;
    big.build(Shape{32, 32, 8}, 1);
    Generator g(9);
    randomise(big, g);
    test::check_layer_gradients(big, test::random_tensor(Shape{4, 32, 32, 8}, g), {.max_elements = 60,
                                                                                     .training = true});
    set_num_threads(saved);
}

TEST_CASE("BatchNormalization gradients match central differences in inference mode", "[batchnorm][gradcheck]") {
    int index = 0;
    for (const Shape& s : {Shape{3, 4, 5, 2}, Shape{6, 3}, Shape{1, 2, 2, 4}}) {
        BatchNormalization<double> bn;
        bn.build(s.without_batch(), 1);
        Generator g(500 + index);
        randomise(bn, g);
        INFO("input " << s.to_string());
        test::check_layer_gradients(bn, test::random_tensor(s, g), {.training = false});
        ++index;
    }
}

TEST_CASE("BatchNormalization backward adds into gamma and beta gradients", "[batchnorm]") {
    for (bool training : {true, false}) {
        BatchNormalization<double> bn;
        bn.build(Shape{3, 3, 2}, 1);
        Generator g(6);
        randomise(bn, g);
        test::check_backward_accumulates(bn, test::random_tensor(Shape{2, 3, 3, 2}, g), training);
    }
}

TEST_CASE("BatchNormalization in float agrees with double", "[batchnorm]") {
    Generator g(8);
    const Tensor<double> xd = test::random_tensor(Shape{8, 6, 6, 3}, g, -1, 3);
    const Tensor<double> dyd = test::random_tensor(xd.shape(), g);
    BatchNormalization<double> d;
    BatchNormalization<float> f;
    d.build(Shape{6, 6, 3}, 1);
    f.build(Shape{6, 6, 3}, 1);
    const Tensor<double> yd = d.forward(xd, true), dxd = d.backward(dyd);
    const Tensor<float> yf = f.forward(xd.cast<float>(), true), dxf = f.backward(dyd.cast<float>());
    for (index_t i = 0; i < yd.size(); ++i) {
        CHECK(yf[i] == Approx(yd[i]).margin(1e-5));
        CHECK(dxf[i] == Approx(dxd[i]).margin(1e-5));
    }
    for (index_t c = 0; c < 3; ++c) {
        CHECK(f.gamma().grad[c] == Approx(d.gamma().grad[c]).margin(1e-4));
        CHECK(f.moving_variance().value[c] == Approx(d.moving_variance().value[c]).epsilon(1e-6));
    }
}

TEST_CASE("BatchNormalization config round trip", "[batchnorm]") {
    BatchNormalization<float> bn({.momentum = 0.9, .epsilon = 1e-5, .center = false,
                                  .gamma_initializer = constant(0.5), .name = "batch_normalization_2"});
    const Config cfg = bn.get_config();
    CHECK(config_value(cfg, "momentum", "t") == "0.90000000000000002");
    CHECK(config_value(cfg, "epsilon", "t") == "1.0000000000000001e-05");
    CHECK(config_value(cfg, "center", "t") == "false");
    auto r = BatchNormalization<float>::from_config(cfg);
    CHECK(r->get_config() == cfg);
    CHECK(r->name() == "batch_normalization_2");
    auto* rb = dynamic_cast<BatchNormalization<float>*>(r.get());
    REQUIRE(rb != nullptr);
    CHECK(rb->options().momentum == 0.9);
    CHECK(rb->options().epsilon == 1e-5);
    rb->build(Shape{4});
    for (float v : rb->gamma().value) CHECK(v == 0.5f);
}

TEST_CASE("BatchNormalization rejects bad arguments with the layer name", "[batchnorm][errors]") {
    using Opt = layers::BatchNormalizationOptions;
    CHECK_THROWS_WITH(BatchNormalization<float>(Opt{.momentum = 1.5, .name = "bn"}),
                      Contains("BatchNormalization \"bn\"") && Contains("momentum"));
    CHECK_THROWS_WITH(BatchNormalization<float>(Opt{.epsilon = 0, .name = "bn"}), Contains("epsilon"));
    CHECK_THROWS_WITH(BatchNormalization<float>(Opt{.axis = 0, .name = "bn"}), Contains("axis"));
    CHECK_THROWS_WITH(BatchNormalization<float>(Opt{.gamma_initializer = "one", .name = "bn"}),
                      Contains("\"bn\"") && Contains("gamma_initializer") && Contains("one"));
    BatchNormalization<float> channels_first(Opt{.axis = 1, .name = "bn"});
    CHECK_THROWS_WITH(channels_first.build(Shape{8, 8, 3}), Contains("\"bn\"") && Contains("axis=1") &&
                                                                 Contains("(None, 8, 8, 3)"));
    CHECK_NOTHROW(BatchNormalization<float>(Opt{.axis = 3}).build(Shape{8, 8, 3}));  // 3 == -1 on 4-D input
    // A saved axis is read as an integer (fuzz_arch finding: "-9999999999999" was read as a double and cast to
    // int, undefined behaviour); out-of-range or non-integer text is an Error naming the axis.
    for (const char* text : {"-9999999999999", "1e13", "2.5", "x", "99"}) {
        INFO(text);
        auto config = BatchNormalization<float>(Opt{.name = "bn"}).get_config();
        for (auto& [key, value] : config)
            if (key == "axis") value = text;
        CHECK_THROWS_WITH(BatchNormalization<float>::from_config(config), Contains("axis") && Contains(text));
    }
    auto config = BatchNormalization<float>(Opt{.axis = 3, .name = "bn"}).get_config();
    CHECK(BatchNormalization<float>::from_config(config)->get_config() == config);
    CHECK_THROWS_WITH(BatchNormalization<float>(Opt{.name = "bn"}).build(Shape{}), Contains("\"bn\""));
    BatchNormalization<float> ok;
    ok.build(Shape{4});
    CHECK_THROWS_WITH(ok.backward(Tensor<float>(Shape{2, 4})), Contains("before forward"));
    CHECK_THROWS_AS(ok.forward(Tensor<float>(Shape{2, 5}), true), Error);
}

TEST_CASE("BatchNormalization's threaded loops match a plain double loop with 1 and 2 threads", "[batchnorm]") {
    const int saved = num_threads();
    Generator g(12);
    const Shape s{4, 32, 32, 8};  // 2^15 elements: the threaded path
    const Tensor<double> x = test::random_tensor(s, g, -1, 3), dy = test::random_tensor(s, g);
    const index_t C = 8, m = x.size() / C;
    std::vector<double> mean, var;
    moments(x, C, mean, var);
    // Reference backward through the batch statistics, written out per channel.
    std::vector<double> sum_dy(std::size_t(C), 0), sum_dy_xhat(std::size_t(C), 0);
    auto xhat = [&](index_t r, index_t c) {
        return (x[r * C + c] - mean[std::size_t(c)]) / std::sqrt(var[std::size_t(c)] + 1e-3);
    };
    for (index_t r = 0; r < m; ++r)
        for (index_t c = 0; c < C; ++c) {
            sum_dy[std::size_t(c)] += dy[r * C + c];
            sum_dy_xhat[std::size_t(c)] += dy[r * C + c] * xhat(r, c);
        }
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        BatchNormalization<float> bn;
        bn.build(s.without_batch(), 1);
        const Tensor<float> y = bn.forward(x.cast<float>(), true);
        const Tensor<float> dx = bn.backward(dy.cast<float>());
        double worst_y = 0, worst_dx = 0;
        for (index_t r = 0; r < m; ++r)
            for (index_t c = 0; c < C; ++c) {
                const std::size_t k = std::size_t(c);
                const double s_c = 1 / std::sqrt(var[k] + 1e-3);
                const double want_dx =
                    s_c / double(m) * (double(m) * dy[r * C + c] - sum_dy[k] - xhat(r, c) * sum_dy_xhat[k]);
                worst_y = std::max(worst_y, std::abs(xhat(r, c) - y[r * C + c]));
                worst_dx = std::max(worst_dx, std::abs(want_dx - dx[r * C + c]));
            }
        INFO("threads " << threads);
        CHECK(worst_y < 1e-5);
        CHECK(worst_dx < 1e-5);
        for (index_t c = 0; c < C; ++c) {
            CHECK(bn.gamma().grad[c] == Approx(sum_dy_xhat[std::size_t(c)]).epsilon(1e-5));
            CHECK(bn.beta().grad[c] == Approx(sum_dy[std::size_t(c)]).epsilon(1e-5));
        }
    }
    set_num_threads(saved);
}
