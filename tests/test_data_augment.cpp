// ImageDataGenerator against hand-computed transforms: identity, flips, 90-degree rotation, integer shifts,
// the four fill modes of spec §1.4 on a 4x4 image, channel shift, brightness, standardize/fit, numpy draws,
// and flow(x, y) with its split rule.
#include <catch2/catch.hpp>

#include <vector>

#include "lumen/data/ImageDataGenerator.hpp"

using namespace lumen;
using data::ImageDataGenerator;
using data::TransformParams;

namespace {
// 4x4x1 image with value 10*row + col: rows "a b c d" = (0 1 2 3), (10 11 12 13), ...
Tensor<float> grid4() {
    Tensor<float> x(Shape{4, 4, 1});
    for (index_t r = 0; r < 4; ++r)
        for (index_t c = 0; c < 4; ++c) x[r * 4 + c] = float(10 * r + c);
    return x;
}
std::vector<float> row(const Tensor<float>& x, index_t r) {
    const index_t W = x.dim(1);
    return std::vector<float>(x.begin() + r * W, x.begin() + (r + 1) * W);
}
float px(const Tensor<float>& x, index_t r, index_t c) { return x[r * x.dim(1) + c]; }
}  // namespace

TEST_CASE("identity parameters give the identity, exactly", "[data][augment]") {
    const Tensor<float> x = grid4();
    for (const char* mode : {"nearest", "reflect", "wrap", "constant"}) {
        ImageDataGenerator gen({.fill_mode = mode});
        const Tensor<float> y = gen.apply_transform(x, TransformParams{});
        CHECK(std::equal(x.begin(), x.end(), y.begin()));
        // Rotation 0 and zoom 1 given explicitly, and a full 360-degree turn, are still the identity.
        const Tensor<float> z = gen.apply_transform(x, TransformParams{.theta = 360, .zx = 1, .zy = 1});
        for (index_t i = 0; i < x.size(); ++i) CHECK(z[i] == Approx(x[i]).margin(1e-4));
    }
    ImageDataGenerator plain;
    data::NumpyRandomState rng(3);
    const TransformParams p = plain.get_random_transform(4, 4, rng);
    CHECK(p.theta == 0);
    CHECK(!p.flip_horizontal);
    CHECK(p.zx == 1);
}

TEST_CASE("flips and a 90-degree rotation move pixels exactly", "[data][augment]") {
    const Tensor<float> x = grid4();
    ImageDataGenerator gen;
    const Tensor<float> h = gen.apply_transform(x, TransformParams{.flip_horizontal = true});
    CHECK(row(h, 0) == std::vector<float>{3, 2, 1, 0});
    const Tensor<float> v = gen.apply_transform(x, TransformParams{.flip_vertical = true});
    CHECK(row(v, 0) == std::vector<float>{30, 31, 32, 33});
    // +90 degrees turns the content counter-clockwise on screen: out(r, c) = in(c, 3 - r).
    const Tensor<float> r90 = gen.apply_transform(x, TransformParams{.theta = 90});
    for (index_t r = 0; r < 4; ++r)
        for (index_t c = 0; c < 4; ++c) CHECK(px(r90, r, c) == px(x, c, 3 - r));
    // Non-square images rotate about their true centre: 180 degrees is a double flip.
    Tensor<float> wide(Shape{2, 3, 1}, std::vector<float>{1, 2, 3, 4, 5, 6});
    const Tensor<float> r180 = gen.apply_transform(wide, TransformParams{.theta = 180});
    CHECK(std::vector<float>(r180.begin(), r180.end()) == std::vector<float>{6, 5, 4, 3, 2, 1});
}

TEST_CASE("integer shifts: width shift moves columns, height shift moves rows (lumen's choice)", "[data][augment]") {
    const Tensor<float> x = grid4();
    ImageDataGenerator gen({.fill_mode = "constant", .cval = -1});
    // ty (from width_shift_range) = 1: x_in = x + 1, the content moves one column left.
    const Tensor<float> left = gen.apply_transform(x, TransformParams{.ty = 1});
    CHECK(row(left, 0) == std::vector<float>{1, 2, 3, -1});
    // tx (from height_shift_range) = 1: the content moves one row up.
    const Tensor<float> up = gen.apply_transform(x, TransformParams{.tx = 1});
    CHECK(row(up, 0) == std::vector<float>{10, 11, 12, 13});
    CHECK(row(up, 3) == std::vector<float>{-1, -1, -1, -1});
}

TEST_CASE("fill modes follow scipy on a 4x4 image (spec §1.4)", "[data][augment]") {
    const Tensor<float> x = grid4();  // row 0 is a b c d = 0 1 2 3
    struct Case {
        const char* mode;
        std::vector<float> right2;  // content moved 2 right: source x - 2 = -2, -1, 0, 1
        std::vector<float> left2;   // content moved 2 left:  source x + 2 = 2, 3, 4, 5
    };
    const Case cases[] = {
        {"nearest", {0, 0, 0, 1}, {2, 3, 3, 3}},    // a a | a b c d | d d
        {"reflect", {1, 0, 0, 1}, {2, 3, 3, 2}},    // b a | a b c d | d c
        {"wrap", {1, 2, 0, 1}, {2, 3, 1, 2}},       // scipy: period n-1, ... b c | a b c d | b c
        {"constant", {7, 7, 0, 1}, {2, 3, 7, 7}},   // k k | a b c d | k k
    };
    for (const auto& c : cases) {
        INFO(c.mode);
        ImageDataGenerator gen({.fill_mode = c.mode, .cval = 7});
        CHECK(row(gen.apply_transform(x, TransformParams{.ty = -2}), 0) == c.right2);
        CHECK(row(gen.apply_transform(x, TransformParams{.ty = 2}), 0) == c.left2);
    }
    // Half-pixel shift: plain bilinear inside the image.
    ImageDataGenerator gen;
    CHECK(row(gen.apply_transform(x, TransformParams{.ty = 0.5}), 0)[0] == Approx(0.5));
    // Zoom 2 (zoom out) about the centre: x_in = 2 (x - 1.5) + 1.5 -> -1.5, 0.5, 2.5, 4.5 (nearest fill).
    CHECK(row(gen.apply_transform(x, TransformParams{.zx = 2}), 0) == std::vector<float>{0, 0.5f, 2.5f, 3});
}

TEST_CASE("channel shift, brightness and standardize follow Keras", "[data][augment]") {
    Tensor<float> x(Shape{1, 2, 2}, std::vector<float>{10, 20, 30, 200});
    ImageDataGenerator gen;
    // Channel shift: clip(v + 50, min, max) over the whole image.
    const Tensor<float> cs = gen.apply_transform(x, TransformParams{.channel_shift_intensity = 50});
    CHECK(std::vector<float>(cs.begin(), cs.end()) == std::vector<float>{60, 70, 80, 200});
    // Brightness 0.5: trunc(0.5 * v); 1.5: min(255, trunc(1.5 * v)).
    const Tensor<float> dark = gen.apply_transform(x, TransformParams{.brightness = 0.55});
    CHECK(std::vector<float>(dark.begin(), dark.end()) == std::vector<float>{5, 11, 16, 110});
    const Tensor<float> bright = gen.apply_transform(x, TransformParams{.brightness = 1.5});
    CHECK(std::vector<float>(bright.begin(), bright.end()) == std::vector<float>{15, 30, 45, 255});
    // rescale then samplewise centring.
    ImageDataGenerator std_gen({.samplewise_center = true, .rescale = 0.5});
    const Tensor<float> s = std_gen.standardize(x);
    CHECK(s[0] == Approx(5 - 32.5));
    // preprocessing_function runs first (before rescale).
    ImageDataGenerator pre({.rescale = 2, .preprocessing_function = [](Tensor<float>& t) { t.array() += 1; }});
    CHECK(pre.standardize(x)[0] == 22);
}

TEST_CASE("fit computes per-channel mean and population std after rescale", "[data][augment]") {
    Tensor<float> x(Shape{2, 1, 1, 2}, std::vector<float>{0, 10, 4, 30});
    ImageDataGenerator gen({.featurewise_std_normalization = true, .rescale = 0.5});
    CHECK(gen.options().featurewise_center);  // forced on, as in Keras
    gen.fit(x);
    REQUIRE(gen.mean().size() == 2);
    CHECK(gen.mean()[0] == Approx(1));   // (0 + 2) / 2
    CHECK(gen.mean()[1] == Approx(10));  // (5 + 15) / 2
    CHECK(gen.std()[0] == Approx(1));
    CHECK(gen.std()[1] == Approx(5));
    Tensor<float> one(Shape{1, 1, 2}, std::vector<float>{4, 30});
    const Tensor<float> z = gen.standardize(one);
    CHECK(z[0] == Approx(1.0 / (1 + 1e-6)));
    CHECK(z[1] == Approx(1.0));
    CHECK_THROWS_WITH(gen.fit(one), Catch::Contains("rank 4"));
}

TEST_CASE("random parameters are numpy's draws in Keras' order", "[data][augment]") {
    // np.random.seed(0); np.random.uniform(-40, 40) == -40 + 80 * 0.5488135039273248
    ImageDataGenerator gen({.rotation_range = 40, .width_shift_range = 0.2, .zoom_range = 0.2, .horizontal_flip = true});
    data::NumpyRandomState rng(0);
    const TransformParams p = gen.get_random_transform(10, 20, rng);
    CHECK(p.theta == Approx(-40 + 80 * 0.5488135039273248));
    // Then width shift U(-0.2, 0.2) * width, zx, zy, and a flip draw: reproduce with the same stream.
    data::NumpyRandomState ref(0);
    ref.random_sample();
    CHECK(p.ty == Approx(ref.uniform(-0.2, 0.2) * 20));
    CHECK(p.tx == 0);
    CHECK(p.zx == Approx(ref.uniform(0.8, 1.2)));
    CHECK(p.zy == Approx(ref.uniform(0.8, 1.2)));
    CHECK(p.flip_horizontal == (ref.random_sample() < 0.5));
    // Integer shift ranges choose from {0..n-1} with a random sign; int 1 always gives 0 (a Keras quirk).
    ImageDataGenerator ints({.height_shift_range = 1});
    for (int i = 0; i < 5; ++i) CHECK(ints.get_random_transform(8, 8, rng).tx == 0);
    ImageDataGenerator list({.height_shift_range = {2.0, 3.0}});
    const double t = list.get_random_transform(8, 8, rng).tx;
    CHECK((t == 2 || t == -2 || t == 3 || t == -3));
}

TEST_CASE("flow(x, y): batches, the first fraction is validation, seeds repeat", "[data][augment][flow]") {
    Tensor<float> x(Shape{10, 2, 2, 1});
    Tensor<float> y(Shape{10});
    for (index_t n = 0; n < 10; ++n) {
        for (index_t k = 0; k < 4; ++k) x[n * 4 + k] = float(n);
        y[n] = float(n % 2);
    }
    ImageDataGenerator gen({.horizontal_flip = true, .validation_split = 0.2});
    auto val = gen.flow(x, y, {.batch_size = 4, .shuffle = false, .subset = "validation"});
    CHECK(val.num_samples() == 2);
    const auto b = val.batch(0);
    CHECK(b.x.at(0, 0, 0, 0) == 0.0f);
    CHECK(b.x.at(1, 0, 0, 0) == 1.0f);
    auto train = gen.flow(x, y, {.batch_size = 4, .subset = "training"});
    CHECK(train.num_samples() == 8);
    CHECK(train.num_batches() == 2);
    CHECK(train.batch(1).x.dim(0) == 4);
    auto a1 = gen.flow(x, y, {.batch_size = 3, .seed = 5});
    auto a2 = gen.flow(x, y, {.batch_size = 3, .seed = 5, .workers = 0});
    for (index_t i = 0; i < a1.num_batches(); ++i) {
        const auto p = a1.batch(i), q = a2.batch(i);
        CHECK(std::equal(p.x.begin(), p.x.end(), q.x.begin()));
        CHECK(std::equal(p.y.begin(), p.y.end(), q.y.begin()));
        for (index_t k = 0; k < p.x.dim(0); ++k) CHECK(p.y[k] == float(int(p.x.at(k, 0, 0, 0)) % 2));  // labels follow
    }
    Tensor<float> y_bad(Shape{10});
    for (index_t n = 0; n < 10; ++n) y_bad[n] = n < 2 ? 0.0f : 1.0f;  // validation holds class 0 only
    CHECK_THROWS_WITH(gen.flow(x, y_bad, {.subset = "training"}), Catch::Contains("ignore_class_split"));
    CHECK_NOTHROW(gen.flow(x, y_bad, {.subset = "training", .ignore_class_split = true}));
    CHECK_THROWS_WITH(gen.flow(x, Tensor<float>(Shape{3})), Catch::Contains("same number of samples"));
}
