// Pooling layers and ZeroPadding2D: gradient checks in double, the max tie rule, padding that never wins,
// the 'same' average divisor, shapes, configs and argument errors.
#include <catch2/catch.hpp>

#include <numeric>

#include "lumen/core/threads.hpp"
#include "lumen/layers/AveragePooling2D.hpp"
#include "lumen/layers/GlobalAveragePooling2D.hpp"
#include "lumen/layers/GlobalMaxPooling2D.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/ZeroPadding2D.hpp"
#include "support/gradcheck.hpp"

using namespace lumen;
using kernels::Size2;

namespace {
// Pairwise-distinct values 0.01 apart in random order, so a step of 1e-5 never changes a max-pool winner.
Tensor<double> distinct(const Shape& s, std::uint64_t seed) {
    Tensor<double> t(s);
    std::iota(t.begin(), t.end(), 0.0);
    Generator g(seed);
    g.shuffle(t.begin(), t.end());
    for (auto& v : t) v = (v - double(t.size()) / 2) * 0.01;
    return t;
}
struct PoolCase {
    Shape in;
    Size2 pool;
    std::optional<Size2> strides;
    const char* padding;
};
const PoolCase kPools[] = {
    {{7, 7, 3}, 2, std::nullopt, "valid"}, {{7, 7, 2}, 2, std::nullopt, "same"}, {{5, 5, 2}, 3, Size2(1), "same"},
    {{7, 9, 2}, 3, Size2(2), "valid"},     {{8, 7, 1}, {3, 2}, Size2(2, 1), "same"},
    {{4, 5, 3}, 3, std::nullopt, "same"},  // pool larger than one side after defaulting strides
};
}  // namespace

TEST_CASE("MaxPooling2D and AveragePooling2D gradients match central differences", "[pooling][gradcheck]") {
    const int saved = num_threads();
    int i = 0;
    for (const PoolCase& p : kPools)
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            const Tensor<double> x = distinct(p.in.with_batch(2), 10 + i++);
            layers::MaxPooling2D<double> mp(p.pool, {.strides = p.strides, .padding = p.padding});
            layers::AveragePooling2D<double> ap(p.pool, {.strides = p.strides, .padding = p.padding});
            INFO("input " << x.shape().to_string() << " padding " << p.padding << " threads " << threads);
            test::check_layer_gradients(mp, x);
            test::check_layer_gradients(ap, x);
        }
    set_num_threads(saved);
}

TEST_CASE("Global poolings and ZeroPadding2D gradients match central differences", "[pooling][gradcheck]") {
    for (const Shape& s : {Shape{2, 5, 7, 3}, Shape{3, 1, 1, 4}, Shape{1, 6, 3, 2}}) {
        const Tensor<double> x = distinct(s, 3);
        layers::GlobalAveragePooling2D<double> gap;
        layers::GlobalAveragePooling2D<double> gap_keep({.keepdims = true});
        layers::GlobalMaxPooling2D<double> gmp;
        layers::ZeroPadding2D<double> zp({{1, 2}, {0, 3}});
        test::check_layer_gradients(gap, x);
        test::check_layer_gradients(gap_keep, x);
        test::check_layer_gradients(gmp, x);
        test::check_layer_gradients(zp, x);
    }
}

TEST_CASE("MaxPooling2D: the first maximum in row-major window order gets the gradient", "[pooling]") {
    // One 2x2 window, all four cells equal: only the top-left one receives the gradient.
    layers::MaxPooling2D<float> mp;
    mp.build(Shape{2, 2, 1});
    const Tensor<float> x(Shape{1, 2, 2, 1}, 3.0f);
    const Tensor<float> y = mp.forward(x, true);
    CHECK(y[0] == 3.0f);
    const Tensor<float> dx = mp.backward(Tensor<float>(Shape{1, 1, 1, 1}, 1.0f));
    CHECK(dx[0] == 1.0f);
    CHECK(dx[1] == 0.0f);
    CHECK(dx[2] == 0.0f);
    CHECK(dx[3] == 0.0f);
    // Tie between the second row's cells only: the left one wins.
    const Tensor<float> x2(Shape{1, 2, 2, 1}, std::vector<float>{1, 2, 5, 5});
    mp.forward(x2, true);
    const Tensor<float> dx2 = mp.backward(Tensor<float>(Shape{1, 1, 1, 1}, 1.0f));
    CHECK(dx2[2] == 1.0f);
    CHECK(dx2[3] == 0.0f);
}

TEST_CASE("MaxPooling2D: padding never wins; overlapping windows sum their gradients", "[pooling]") {
    layers::MaxPooling2D<float> mp(3, {.strides = 1, .padding = "same"});
    CHECK(mp.build(Shape{3, 3, 1}) == Shape{3, 3, 1});
    Tensor<float> x(Shape{1, 3, 3, 1}, -5.0f);
    x[4] = -1.0f;  // the centre, inside every window
    const Tensor<float> y = mp.forward(x, true);
    for (float v : y) CHECK(v == -1.0f);  // a padded zero would have won otherwise
    const Tensor<float> dx = mp.backward(Tensor<float>(Shape{1, 3, 3, 1}, 1.0f));
    CHECK(dx[4] == 9.0f);
    CHECK(std::accumulate(dx.begin(), dx.end(), 0.0f) == 9.0f);
}

TEST_CASE("AveragePooling2D 'same' divides by the real cells of each window", "[pooling]") {
    layers::AveragePooling2D<float> ap(2, {.padding = "same"});
    CHECK(ap.build(Shape{3, 3, 1}) == Shape{2, 2, 1});  // pads 0/1 on both axes
    const Tensor<float> x(Shape{1, 3, 3, 1}, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9});
    const Tensor<float> y = ap.forward(x, true);
    CHECK(y[0] == Approx((1 + 2 + 4 + 5) / 4.0));
    CHECK(y[1] == Approx((3 + 6) / 2.0));  // 2 real cells, not 4
    CHECK(y[2] == Approx((7 + 8) / 2.0));
    CHECK(y[3] == Approx(9.0));            // 1 real cell
    const Tensor<float> dx = ap.backward(Tensor<float>(Shape{1, 2, 2, 1}, 1.0f));
    CHECK(dx[0] == Approx(0.25));
    CHECK(dx[2] == Approx(0.5));
    CHECK(dx[8] == Approx(1.0));
}

TEST_CASE("Pooling shapes follow Keras; strides default to pool_size", "[pooling]") {
    CHECK(layers::MaxPooling2D<float>().build(Shape{180, 180, 16}) == Shape{90, 90, 16});
    CHECK(layers::MaxPooling2D<float>().build(Shape{45, 45, 64}) == Shape{22, 22, 64});  // keras-reference §5
    CHECK(layers::MaxPooling2D<float>(2, {.padding = "same"}).build(Shape{45, 45, 64}) == Shape{23, 23, 64});
    CHECK(layers::AveragePooling2D<float>(3).strides() == Size2(3));
    CHECK(layers::AveragePooling2D<float>(3, {.strides = 1}).build(Shape{6, 9, 1}) == Shape{4, 7, 1});
    CHECK(layers::GlobalAveragePooling2D<float>().build(Shape{5, 7, 3}) == Shape{3});
    CHECK(layers::GlobalAveragePooling2D<float>({.keepdims = true}).build(Shape{5, 7, 3}) == Shape{1, 1, 3});
    CHECK(layers::GlobalMaxPooling2D<float>().build(Shape{5, 7, 3}) == Shape{3});
    CHECK(layers::ZeroPadding2D<float>().build(Shape{5, 7, 3}) == Shape{7, 9, 3});
    CHECK(layers::ZeroPadding2D<float>({2, 1}).build(Shape{5, 7, 3}) == Shape{9, 9, 3});
    CHECK(layers::ZeroPadding2D<float>({{1, 2}, {0, 3}}).build(Shape{5, 7, 3}) == Shape{8, 10, 3});
    auto mp = layers::MaxPooling2D();  // CTAD: float
    CHECK(mp.class_name() == "MaxPooling2D");
}

TEST_CASE("ZeroPadding2D places the image and zeros exactly", "[pooling]") {
    layers::ZeroPadding2D<float> zp({{1, 0}, {2, 1}});
    CHECK(zp.build(Shape{2, 2, 1}) == Shape{3, 5, 1});
    const Tensor<float> y = zp.forward(Tensor<float>(Shape{1, 2, 2, 1}, std::vector<float>{1, 2, 3, 4}), true);
    const std::vector<float> want{0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3, 4, 0};
    CHECK(std::vector<float>(y.begin(), y.end()) == want);
}

TEST_CASE("Pooling configs round-trip", "[pooling]") {
    layers::MaxPooling2D<float> mp({3, 2}, {.strides = Size2(1, 2), .padding = "same", .name = "mp"});
    CHECK(layers::MaxPooling2D<float>::from_config(mp.get_config())->get_config() == mp.get_config());
    layers::AveragePooling2D<float> ap(3, {.name = "ap"});
    CHECK(layers::AveragePooling2D<float>::from_config(ap.get_config())->get_config() == ap.get_config());
    layers::GlobalAveragePooling2D<float> gap({.keepdims = true, .name = "g"});
    CHECK(layers::GlobalAveragePooling2D<float>::from_config(gap.get_config())->get_config() == gap.get_config());
    layers::GlobalMaxPooling2D<float> gmp({.name = "m"});
    CHECK(layers::GlobalMaxPooling2D<float>::from_config(gmp.get_config())->get_config() == gmp.get_config());
    layers::ZeroPadding2D<float> zp({{1, 2}, {0, 3}}, {.name = "z"});
    CHECK(layers::ZeroPadding2D<float>::from_config(zp.get_config())->get_config() == zp.get_config());
}

TEST_CASE("Pooling layers reject bad arguments with a message", "[pooling][errors]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(layers::MaxPooling2D<float>(0, {.name = "p"}), Contains("MaxPooling2D \"p\"") && Contains("pool_size"));
    CHECK_THROWS_WITH(layers::MaxPooling2D<float>({2, -1}), Contains("pool_size"));
    CHECK_THROWS_WITH(layers::AveragePooling2D<float>(2, {.strides = 0}), Contains("strides"));
    CHECK_THROWS_WITH(layers::AveragePooling2D<float>(2, {.padding = "full"}), Contains("padding") && Contains("full"));
    CHECK_THROWS_WITH(layers::ZeroPadding2D<float>(-1), Contains("padding"));
    layers::MaxPooling2D<float> big(5, {.name = "max_pooling2d"});
    CHECK_THROWS_WITH(big.build(Shape{4, 9, 3}), Contains("max_pooling2d") && Contains("valid") && Contains("4"));
    CHECK_NOTHROW(layers::MaxPooling2D<float>(5, {.padding = "same"}).build(Shape{4, 9, 3}));
    layers::GlobalAveragePooling2D<float> gap({.name = "gap"});
    CHECK_THROWS_WITH(gap.build(Shape{30}), Contains("gap") && Contains("(None, 30)"));
    layers::AveragePooling2D<float> ap;
    CHECK_THROWS_WITH(ap.build(Shape{5, 5}), Contains("(None, 5, 5)"));
    CHECK_THROWS_AS(layers::ZeroPadding2D<float>().build(Shape{2, 5, 5, 3}), Error);
    layers::MaxPooling2D<float> mp;
    mp.build(Shape{4, 4, 2});
    CHECK_THROWS_AS(mp.backward(Tensor<float>(Shape{1, 2, 2, 2})), Error);  // before forward
    CHECK_THROWS_WITH(mp.forward(Tensor<float>(Shape{1, 4, 4, 3}), false), Contains("(None, 4, 4, 2)"));
}
