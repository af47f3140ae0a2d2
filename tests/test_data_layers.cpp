// Random augmentation layers and Resizing: identity at inference, exact geometry for known draws, backward is
// the exact adjoint of the forward transform, seeds repeat, configs round-trip.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "lumen/core/threads.hpp"
#include "lumen/layers/RandomBrightness.hpp"
#include "lumen/layers/RandomContrast.hpp"
#include "lumen/layers/RandomFlip.hpp"
#include "lumen/layers/RandomRotation.hpp"
#include "lumen/layers/RandomTranslation.hpp"
#include "lumen/layers/RandomZoom.hpp"
#include "lumen/layers/Resizing.hpp"
#include "support/gradcheck.hpp"

using namespace lumen;
using namespace lumen::layers;

namespace {
Tensor<double> grid(index_t N, index_t H, index_t W, index_t C) {
    Tensor<double> x(Shape{N, H, W, C});
    for (index_t i = 0; i < x.size(); ++i) x[i] = double((i * 37) % 101);
    return x;
}
double dot(const Tensor<double>& a, const Tensor<double>& b) { return (a.array() * b.array()).sum(); }
// For a layer whose training forward is linear in x once its draws are fixed: <dy, A x> == <A^T dy, x>.
void check_adjoint(Layer<double>& layer, const Tensor<double>& x) {
    Generator g(11);
    const Tensor<double> y = layer.forward(x, true);
    const Tensor<double> dy = test::random_tensor(y.shape(), g);
    const Tensor<double> dx = layer.backward(dy);
    CHECK(dx.shape() == x.shape());
    CHECK(dot(dy, y) == Approx(dot(dx, x)).epsilon(1e-10));
}
template <class L>
void check_roundtrip(L& layer) {
    const auto copy = L::from_config(layer.get_config());
    CHECK(copy->get_config() == layer.get_config());
    CHECK(copy->class_name() == layer.class_name());
}
}  // namespace

TEST_CASE("random layers are the identity at inference, with identity backward", "[data][layers]") {
    std::vector<std::shared_ptr<Layer<double>>> all{
        std::make_shared<RandomFlip<double>>(), std::make_shared<RandomRotation<double>>(0.2),
        std::make_shared<RandomZoom<double>>(0.3), std::make_shared<RandomTranslation<double>>(0.2, 0.2),
        std::make_shared<RandomContrast<double>>(0.5), std::make_shared<RandomBrightness<double>>(0.3)};
    const Tensor<double> x = grid(2, 5, 6, 3);
    for (auto& l : all) {
        INFO(l->class_name());
        l->build(Shape{5, 6, 3}, 1);
        const Tensor<double> y = l->forward(x, false);
        CHECK(std::equal(x.begin(), x.end(), y.begin()));
        const Tensor<double> dx = l->backward(y);
        CHECK(std::equal(x.begin(), x.end(), dx.begin()));
        CHECK(l->count_params() == 0);
        CHECK_THROWS_WITH(l->build(Shape{5, 6}), Catch::Contains(l->class_name()));
    }
}

TEST_CASE("RandomFlip flips whole images and its backward flips the gradient", "[data][layers]") {
    RandomFlip<double> flip("horizontal", {.seed = 3});
    flip.build(Shape{2, 3, 1});
    const Tensor<double> x = grid(8, 2, 3, 1);
    const Tensor<double> y = flip.forward(x, true);
    int flipped = 0;
    for (index_t n = 0; n < 8; ++n) {
        const bool f = flip.flips()[std::size_t(n)][0];
        flipped += f;
        CHECK(!flip.flips()[std::size_t(n)][1]);
        for (index_t r = 0; r < 2; ++r)
            for (index_t c = 0; c < 3; ++c) CHECK(y.at(n, r, c, 0) == x.at(n, r, f ? 2 - c : c, 0));
    }
    CHECK(flipped > 0);
    CHECK(flipped < 8);
    check_adjoint(flip, x);
    CHECK_THROWS_WITH(RandomFlip<double>("diagonal"), Catch::Contains("mode"));
}

TEST_CASE("RandomRotation by a quarter turn, RandomTranslation and RandomZoom move known pixels", "[data][layers]") {
    const Tensor<double> x = grid(1, 4, 4, 1);
    RandomRotation<double> rot(FactorRange(0.25, 0.25));  // always +90 degrees, counter-clockwise
    rot.build(Shape{4, 4, 1});
    const Tensor<double> r = rot.forward(x, true);
    for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 4; ++j) CHECK(r.at(0, i, j, 0) == Approx(x.at(0, j, 3 - i, 0)).margin(1e-9));
    RandomTranslation<double> down(FactorRange(0.25, 0.25), FactorRange(0, 0));  // one row down, reflect fill
    down.build(Shape{4, 4, 1});
    const Tensor<double> d = down.forward(x, true);
    for (index_t j = 0; j < 4; ++j) {
        CHECK(d.at(0, 0, j, 0) == Approx(x.at(0, 0, j, 0)));  // y_in = -1 reflects to row 0
        CHECK(d.at(0, 3, j, 0) == Approx(x.at(0, 2, j, 0)));
    }
    RandomZoom<double> zoom(FactorRange(-0.5, -0.5), std::nullopt, {.fill_mode = "constant"});  // zoom in x2
    zoom.build(Shape{4, 4, 1});
    const Tensor<double> z = zoom.forward(x, true);
    // x_in = 0.5 x + 0.75: output column 1 reads input column 1.25.
    CHECK(z.at(0, 1, 1, 0) == Approx(0.75 * 0.75 * x.at(0, 1, 1, 0) + 0.75 * 0.25 * x.at(0, 1, 2, 0) +
                                      0.25 * 0.75 * x.at(0, 2, 1, 0) + 0.25 * 0.25 * x.at(0, 2, 2, 0)));
}

TEST_CASE("backward of geometric layers and Resizing is the exact adjoint", "[data][layers]") {
    const Tensor<double> x = grid(3, 6, 5, 2);
    for (const char* mode : {"reflect", "wrap", "nearest", "constant"}) {
        INFO(mode);
        RandomRotation<double> rot(0.2, {.fill_mode = mode, .seed = 1});
        rot.build(Shape{6, 5, 2});
        check_adjoint(rot, x);
        RandomZoom<double> zoom(0.4, FactorRange(-0.3, 0.2), {.fill_mode = mode, .seed = 2});
        zoom.build(Shape{6, 5, 2});
        check_adjoint(zoom, x);
        RandomTranslation<double> tr(0.3, 0.3, {.fill_mode = mode, .interpolation = "nearest", .seed = 3});
        tr.build(Shape{6, 5, 2});
        check_adjoint(tr, x);
    }
    for (const char* interp : {"bilinear", "nearest", "area"})
        for (bool crop : {false, true}) {
            Resizing<double> rs(4, 7, {.interpolation = interp, .crop_to_aspect_ratio = crop});
            CHECK(rs.build(Shape{6, 5, 2}) == Shape{4, 7, 2});
            check_adjoint(rs, x);
        }
}

TEST_CASE("RandomContrast and RandomBrightness: formulas and gradients", "[data][layers]") {
    Tensor<double> x(Shape{1, 1, 4, 1}, std::vector<double>{10, 20, 30, 40});
    RandomContrast<double> con(FactorRange(-0.5, 0.5), {.seed = 4});  // c in [0.5, 1.5]
    con.build(Shape{1, 4, 1});
    const Tensor<double> y = con.forward(x, true);
    const double c = con.last_factor();
    CHECK(c >= 0.5);
    CHECK(c <= 1.5);
    CHECK(y[0] == Approx((10 - 25) * c + 25));
    // Central differences with the draw held fixed (rebuilding with the same seed repeats it).
    Generator g(5);
    const Tensor<double> dy = test::random_tensor(y.shape(), g);
    const Tensor<double> dx = con.backward(dy);
    for (index_t i = 0; i < 4; ++i) {
        Tensor<double> xp = x, xm = x;
        xp[i] += 1e-4;
        xm[i] -= 1e-4;
        con.build(Shape{1, 4, 1});
        const double fp = dot(dy, con.forward(xp, true));
        con.build(Shape{1, 4, 1});
        const double fm = dot(dy, con.forward(xm, true));
        CHECK(dx[i] == Approx((fp - fm) / 2e-4).epsilon(1e-6));
    }
    RandomBrightness<double> br(FactorRange(0.5, 0.5));  // always + 127.5
    br.build(Shape{1, 4, 1});
    const Tensor<double> b = br.forward(x, true);
    CHECK(b[0] == Approx(137.5));
    CHECK(b[3] == Approx(167.5));
    Tensor<double> hi(Shape{1, 1, 4, 1}, std::vector<double>{200, 100, 0, 130});
    const Tensor<double> bh = br.forward(hi, true);
    CHECK(bh[0] == 255);  // clipped
    const Tensor<double> gb = br.backward(Tensor<double>(Shape{1, 1, 4, 1}, 1.0));
    CHECK(std::vector<double>(gb.begin(), gb.end()) == std::vector<double>{0, 1, 1, 0});
    CHECK_THROWS_WITH(RandomContrast<double>(1.5), Catch::Contains("factor"));
    CHECK_THROWS_WITH(RandomBrightness<double>(2.0), Catch::Contains("factor"));
}

TEST_CASE("the same seed gives the same augmentation; configs round-trip", "[data][layers]") {
    const Tensor<double> x = grid(4, 6, 6, 3);
    RandomRotation<double> a(0.3), b(0.3);
    a.build(Shape{6, 6, 3}, 99);
    b.build(Shape{6, 6, 3}, 99);
    const Tensor<double> ya = a.forward(x, true), yb = b.forward(x, true);
    CHECK(std::equal(ya.begin(), ya.end(), yb.begin()));
    const Tensor<double> ya2 = a.forward(x, true);
    CHECK(!std::equal(ya.begin(), ya.end(), ya2.begin()));  // new draws each batch

    RandomFlip<double> f("vertical", {.seed = 5, .name = "flip"});
    check_roundtrip(f);
    RandomRotation<double> r(FactorRange(-0.1, 0.2), {.fill_mode = "constant", .interpolation = "nearest", .fill_value = 0.5});
    check_roundtrip(r);
    RandomZoom<double> z(0.1, FactorRange(0.0, 0.3));
    check_roundtrip(z);
    RandomZoom<double> z2(0.1);
    check_roundtrip(z2);
    RandomTranslation<double> t(0.1, 0.2, {.seed = 7});
    check_roundtrip(t);
    RandomContrast<double> c(0.3);
    check_roundtrip(c);
    RandomBrightness<double> br(FactorRange(-0.2, 0.1), {.value_range = {0, 1}});
    check_roundtrip(br);
    Resizing<double> rs(32, 48, {.interpolation = "nearest", .crop_to_aspect_ratio = true});
    check_roundtrip(rs);
    CHECK(rs.get_config()[4].second == "True");
    CHECK_THROWS_WITH(RandomRotation<double>(0.1, {.fill_mode = "mirror"}), Catch::Contains("fill_mode"));
    CHECK_THROWS_WITH(RandomTranslation<double>(1.5, 0.1), Catch::Contains("factor"));
    CHECK_THROWS_WITH(Resizing<double>(0, 3), Catch::Contains("Resizing"));
}

TEST_CASE("geometric layers and RandomFlip give the same images and gradients on 1 and 2 threads", "[data][layers][threads]") {
    // The images of a batch are warped in parallel after every draw is made in order, so the thread count changes
    // nothing. (Also run under ThreadSanitizer: scripts/test-sanitizers tsan.)
    const int saved = num_threads();
    const Tensor<double> x = grid(7, 9, 8, 3);
    Generator g(5);
    const Tensor<double> dy = test::random_tensor(x.shape(), g);
    auto run = [&](int threads, auto make) {
        set_num_threads(threads);
        auto layer = make();
        layer.build(Shape{9, 8, 3}, 21);
        Tensor<double> y = layer.forward(x, true);
        Tensor<double> dx = layer.backward(dy);
        return std::pair{y, dx};
    };
    auto same = [&](auto make) {
        const auto [y1, dx1] = run(1, make);
        const auto [y2, dx2] = run(2, make);
        CHECK(std::equal(y1.begin(), y1.end(), y2.begin()));
        CHECK(std::equal(dx1.begin(), dx1.end(), dx2.begin()));
        CHECK(!std::equal(y1.begin(), y1.end(), x.begin()));  // something was transformed
    };
    same([] { return RandomRotation<double>(0.3); });
    same([] { return RandomZoom<double>(0.3); });
    same([] { return RandomTranslation<double>(0.2, 0.2, {.fill_mode = "constant"}); });
    same([] { return RandomFlip<double>("horizontal_and_vertical"); });
    set_num_threads(saved);
}

TEST_CASE("a batch smaller than the thread count is warped in bands of rows with the same result", "[data][layers][threads]") {
    // One image on 2 and 3 threads: each image is split into bands of rows (warp_batch), which must not change
    // a value; the batch of 2 on 3 threads splits too.
    const int saved = num_threads();
    for (index_t N : {1, 2}) {
        const Tensor<double> x = grid(N, 70, 41, 3);
        auto run = [&](int threads) {
            set_num_threads(threads);
            RandomRotation<double> r(0.2, {.seed = 4});
            r.build(Shape{70, 41, 3}, 1);
            return r.forward(x, true);
        };
        const Tensor<double> one = run(1), two = run(2), three = run(3);
        CHECK(std::equal(one.begin(), one.end(), two.begin()));
        CHECK(std::equal(one.begin(), one.end(), three.begin()));
        CHECK(!std::equal(one.begin(), one.end(), x.begin()));
    }
    set_num_threads(saved);
}

TEST_CASE("affine_warp's fast path for points inside the image gives sample_taps' numbers", "[data][layers][kernels]") {
    // The plain path: every output pixel through sample_taps, as affine_warp_adjoint does.
    auto plain = [](const Tensor<double>& img, const kernels::Affine2D& m, kernels::FillMode mode, kernels::Boundary b) {
        const index_t H = img.dim(0), W = img.dim(1), C = img.dim(2);
        Tensor<double> out(img.shape());
        for (index_t y = 0; y < H; ++y)
            for (index_t x = 0; x < W; ++x) {
                const auto t = kernels::sample_taps(m, x, y, H, W, mode, b, false);
                for (index_t c = 0; c < C; ++c) {
                    double v = t.count == 0 ? 0.5 : 0.0;  // 0.5: the constant fill value used below
                    for (int k = 0; k < t.count; ++k) v += t.weight[std::size_t(k)] * img[t.pixel[std::size_t(k)] * C + c];
                    out[(y * W + x) * C + c] = v;
                }
            }
        return out;
    };
    Generator g(8);
    for (const auto& [H, W] : {std::pair<index_t, index_t>{9, 8}, {1, 5}, {6, 1}, {13, 17}}) {
        Tensor<double> img(Shape{H, W, 3});
        for (auto& v : img) v = g.uniform(0, 255);
        for (int trial = 0; trial < 20; ++trial) {
            // rotations, zooms, shifts; every fourth trial an exact quarter turn (coordinates snapped to integers)
            const double angle = trial % 4 == 0 ? 1.5707963267948966 : g.uniform(-0.6, 0.6);
            const double zoom = trial % 4 == 0 ? 1.0 : g.uniform(0.7, 1.3);
            const double cy = double(H - 1) / 2, cx = double(W - 1) / 2;
            kernels::Affine2D m{{zoom * std::cos(angle), -zoom * std::sin(angle), 0, zoom * std::sin(angle),
                                 zoom * std::cos(angle), 0}};
            m.a[2] = cx - m.a[0] * cx - m.a[1] * cy + g.uniform(-2, 2);
            m.a[5] = cy - m.a[3] * cx - m.a[4] * cy + g.uniform(-2, 2);
            for (auto mode : {kernels::FillMode::reflect, kernels::FillMode::wrap, kernels::FillMode::nearest,
                              kernels::FillMode::constant})
                for (auto b : {kernels::Boundary::tf, kernels::Boundary::scipy}) {
                    Tensor<double> fast(img.shape(), uninitialized);
                    kernels::affine_warp(img.data(), H, W, 3, fast.data(), m, mode, 0.5, b);
                    const Tensor<double> want = plain(img, m, mode, b);
                    index_t bad = 0;
                    for (index_t i = 0; i < img.size(); ++i) bad += fast[i] != want[i];  // the same operations in the same order
                    INFO(H << "x" << W << " trial " << trial << " mode " << kernels::to_string(mode));
                    CHECK(bad == 0);
                }
        }
    }
}
