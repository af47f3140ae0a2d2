// Initialisers: Keras' fan rules, the limits and stddevs the code uses (the golden file initializer_constants
// checks them against the reference too), and the draws themselves: uniform ones stay inside the limit,
// truncated normal ones inside 2 stddev, and the sample standard deviation is the one Keras aims at.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "lumen/layers/initializers.hpp"

using namespace lumen;
using Catch::Contains;

namespace {
struct Stats {
    double mean = 0, std = 0, max_abs = 0;
};
Stats stats(const Tensor<double>& t) {
    Stats s;
    for (double v : t) s.mean += v / double(t.size());
    for (double v : t) {
        s.std += (v - s.mean) * (v - s.mean) / double(t.size());
        s.max_abs = std::max(s.max_abs, std::abs(v));
    }
    s.std = std::sqrt(s.std);
    return s;
}
}  // namespace

TEST_CASE("compute_fans follows Keras' VarianceScaling rules", "[initializers]") {
    auto fans = [](const Shape& s) {
        const Fans f = compute_fans(s);
        return std::pair<double, double>(f.fan_in, f.fan_out);
    };
    CHECK(fans(Shape{}) == std::pair<double, double>(1, 1));
    CHECK(fans(Shape{7}) == std::pair<double, double>(7, 7));
    CHECK(fans(Shape{5, 3}) == std::pair<double, double>(5, 3));
    CHECK(fans(Shape{3, 3, 3, 16}) == std::pair<double, double>(27, 144));  // Conv2D(16, 3) on RGB
    CHECK(fans(Shape{1, 1, 4, 2}) == std::pair<double, double>(4, 2));
    CHECK(fans(Shape{5, 2, 3}) == std::pair<double, double>(10, 15));       // rank 3: receptive = 5
    CHECK(fans(Shape{2, 3, 4, 5, 6}) == std::pair<double, double>(120, 144));
}

TEST_CASE("Initializer limits and stddevs are Keras' constants", "[initializers]") {
    // keras-reference §5: Conv2D(16, 3) on RGB L = 0.18732; Dense(30976 -> 128) L = 0.013889.
    CHECK(Initializer("glorot_uniform").uniform_limit(Shape{3, 3, 3, 16}) == Approx(0.18732).epsilon(1e-4));
    CHECK(Initializer("glorot_uniform").uniform_limit(Shape{30976, 128}) == Approx(0.013889).epsilon(1e-4));
    const Shape s{5, 3};  // fan_in 5, fan_out 3
    CHECK(Initializer("glorot_uniform").uniform_limit(s) == Approx(std::sqrt(6.0 / 8)).epsilon(1e-15));
    CHECK(Initializer("he_uniform").uniform_limit(s) == Approx(std::sqrt(6.0 / 5)).epsilon(1e-15));
    CHECK(Initializer("lecun_uniform").uniform_limit(s) == Approx(std::sqrt(3.0 / 5)).epsilon(1e-15));
    CHECK(Initializer("glorot_normal").truncated_stddev(s) ==
          Approx(std::sqrt(2.0 / 8) / 0.87962566103423978).epsilon(1e-15));
    CHECK(Initializer("he_normal").truncated_stddev(s) ==
          Approx(std::sqrt(2.0 / 5) / 0.87962566103423978).epsilon(1e-15));
    CHECK(Initializer("lecun_normal").truncated_stddev(s) ==
          Approx(std::sqrt(1.0 / 5) / 0.87962566103423978).epsilon(1e-15));
    // The divisor is the stddev of a standard normal truncated at +-2: sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)).
    const double phi2 = std::exp(-2.0) / std::sqrt(2 * std::numbers::pi), mass = std::erf(2 / std::sqrt(2.0));
    CHECK(kTruncatedNormalStd == Approx(std::sqrt(1 - 4 * phi2 / mass)).epsilon(1e-15));
    CHECK_THROWS_AS(Initializer("he_normal").uniform_limit(s), Error);
    CHECK_THROWS_AS(Initializer("zeros").truncated_stddev(s), Error);
}

TEST_CASE("Uniform initialisers draw inside the limit with the target spread", "[initializers]") {
    for (const char* name : {"glorot_uniform", "he_uniform", "lecun_uniform"}) {
        for (const Shape& shape : {Shape{3, 3, 64, 128}, Shape{1024, 100}}) {
            const Initializer init(name);
            Tensor<double> w(shape);
            Generator g(7);
            init(w, g);
            const double limit = init.uniform_limit(shape);
            const Stats st = stats(w);
            INFO(name << " on " << shape.to_string() << ": limit " << limit << " mean " << st.mean << " std " << st.std
                      << " max |w| " << st.max_abs);
            CHECK(st.max_abs <= limit);
            CHECK(st.max_abs > 0.999 * limit);                          // the whole range is used
            CHECK(st.std == Approx(limit / std::sqrt(3.0)).epsilon(0.02));  // U(-L, L) has std L / sqrt(3)
            CHECK(std::abs(st.mean) < 5 * st.std / std::sqrt(double(w.size())));
            CHECK(st.std == Approx(std::sqrt(init.target_variance(shape))).epsilon(0.02));
        }
    }
}

TEST_CASE("Truncated normal initialisers stay within 2 stddev and hit the target stddev", "[initializers]") {
    for (const char* name : {"glorot_normal", "he_normal", "lecun_normal"}) {
        for (const Shape& shape : {Shape{3, 3, 64, 128}, Shape{1024, 100}}) {
            const Initializer init(name);
            Tensor<double> w(shape);
            Generator g(8);
            init(w, g);
            const double stddev = init.truncated_stddev(shape);
            const Stats st = stats(w);
            INFO(name << " on " << shape.to_string() << ": stddev " << stddev << " sample std " << st.std
                      << " max |w| " << st.max_abs);
            CHECK(st.max_abs <= 2 * stddev);
            CHECK(st.max_abs > 1.99 * stddev);  // truncated at 2 stddev, not earlier
            // Keras' point of the 0.8796 divisor: the truncated draws have std sqrt(scale / fan).
            CHECK(st.std == Approx(std::sqrt(init.target_variance(shape))).epsilon(0.02));
            CHECK(st.std == Approx(stddev * kTruncatedNormalStd).epsilon(0.02));
            CHECK(std::abs(st.mean) < 5 * st.std / std::sqrt(double(w.size())));
        }
    }
}

TEST_CASE("Constant initialisers, seeds and float tensors", "[initializers]") {
    Tensor<float> w(Shape{4, 3});
    Generator g(1);
    Initializer("zeros")(w, g);
    for (float v : w) CHECK(v == 0.0f);
    Initializer("ones")(w, g);
    for (float v : w) CHECK(v == 1.0f);
    constant(-0.25)(w, g);
    for (float v : w) CHECK(v == -0.25f);
    Initializer("constant(0.125)")(w, g);
    for (float v : w) CHECK(v == 0.125f);
    CHECK(constant(0.1).to_string() == "constant(0.10000000000000001)");
    CHECK(Initializer(constant(0.1).to_string()).value == 0.1);
    CHECK(Initializer("he_normal").to_string() == "he_normal");

    Tensor<float> a(Shape{20, 10}), b(Shape{20, 10}), c(Shape{20, 10});
    Generator ga(3), gb(3), gc(4);
    Initializer("glorot_uniform")(a, ga);
    Initializer("glorot_uniform")(b, gb);
    Initializer("glorot_uniform")(c, gc);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
    CHECK(!std::equal(a.begin(), a.end(), c.begin()));
}

TEST_CASE("Unknown initialiser names are errors naming the layer and argument", "[initializers][errors]") {
    CHECK(Initializer("glorot_uniform").known());
    CHECK(!Initializer("GlorotUniform").known());
    CHECK(!Initializer("constant(abc)").known());
    CHECK_THROWS_WITH(Initializer("glorot").validate("Dense \"dense\"", "kernel_initializer"),
                      Contains("Dense \"dense\"") && Contains("kernel_initializer") && Contains("\"glorot\""));
    Tensor<float> w(Shape{2, 2});
    Generator g(1);
    CHECK_THROWS_AS(Initializer("random")(w, g), Error);
    CHECK_THROWS_AS(Initializer("glorot").target_variance(Shape{2, 2}), Error);
}
