// affine_warp (blocks of a row: vectorised source points, fill modes only outside, unrolled channel loops, tiles
// for slanted maps) against the plain per-pixel path through sample_taps, which the adjoint also uses: the
// two must give the same floats, bit for bit, for every map, fill mode, boundary, interpolation and channel count.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/kernels/affine.hpp"

using namespace lumen;
using kernels::Affine2D;
using kernels::Boundary;
using kernels::FillMode;

namespace {

// out (H, W, C): every pixel through sample_taps, its taps summed in order in double with add_tap (the rounding
// affine_warp uses: one fused multiply-add per tap where the target has FMA).
template <class T>
std::vector<T> plain_warp(const std::vector<T>& in, index_t H, index_t W, index_t C, const Affine2D& m, FillMode mode,
                          T cval, Boundary b, bool nearest) {
    std::vector<T> out(in.size());
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x) {
            const kernels::SampleTaps t = kernels::sample_taps(m, x, y, H, W, mode, b, nearest);
            for (index_t c = 0; c < C; ++c) {
                T& o = out[std::size_t((y * W + x) * C + c)];
                if (t.count == 0) {
                    o = cval;
                    continue;
                }
                double v = 0;
                for (int k = 0; k < t.count; ++k)
                    v = kernels::add_tap(v, t.weight[std::size_t(k)],
                                         double(in[std::size_t(t.pixel[std::size_t(k)] * C + c)]));
                o = static_cast<T>(v);
            }
        }
    return out;
}

// A random map of one of six kinds: rotation (any angle), exact quarter turns (snapped coordinates), zoom in
// or out (axis-aligned), rotation with shear-like unequal scales, a shift that may push the whole image outside.
Affine2D random_map(Generator& g, int kind, index_t H, index_t W) {
    const double cx = double(W - 1) / 2, cy = double(H - 1) / 2;
    double angle = g.uniform(-3.2, 3.2), zx = g.uniform(0.5, 1.6), zy = zx, tx = g.uniform(-2, 2), ty = g.uniform(-2, 2);
    Affine2D m;
    switch (kind) {
        case 0: angle = 1.5707963267948966 * double(1 + int(g.uniform(0, 3))), zx = zy = 1; break;
        case 1: zy = zx * g.uniform(0.7, 1.4); break;
        case 2: angle = 0; break;                              // zoom only: axis-aligned, row-order path
        case 3: angle = g.uniform(-0.63, 0.63); break;         // RandomRotation(0.1)-like with zoom
        case 4: tx = g.uniform(-4, 4) * double(W), ty = g.uniform(-4, 4) * double(H); break;  // far outside
        default: break;
    }
    m.a = {zx * std::cos(angle), -zy * std::sin(angle), 0, zx * std::sin(angle), zy * std::cos(angle), 0};
    if (kind == 2) m.a[1] = m.a[3] = 0;
    m.a[2] = cx - m.a[0] * cx - m.a[1] * cy + tx;
    m.a[5] = cy - m.a[3] * cx - m.a[4] * cy + ty;
    return m;
}

template <class T>
void compare_with_plain(std::uint64_t seed) {
    Generator g(seed);
    const index_t sizes[][2] = {{1, 1}, {1, 5}, {6, 1}, {2, 3}, {9, 8}, {13, 17}, {37, 70}, {71, 33}, {90, 131}};
    index_t warps = 0, differing = 0;
    for (const auto& hw : sizes) {
        const index_t H = hw[0], W = hw[1];
        for (index_t C : {1, 2, 3, 4, 5}) {
            std::vector<T> img(std::size_t(H * W * C));
            for (T& v : img) v = static_cast<T>(g.uniform(-20, 255));
            img[0] = T(-0.0);  // a signed zero among the taps
            const int trials = H * W > 1000 ? 6 : 18;
            for (int trial = 0; trial < trials; ++trial) {
                const Affine2D m = random_map(g, trial % 6, H, W);
                for (FillMode mode : {FillMode::constant, FillMode::nearest, FillMode::reflect, FillMode::wrap})
                    for (Boundary b : {Boundary::tf, Boundary::scipy})
                        for (bool nearest : {false, true}) {
                            std::vector<T> fast(img.size());
                            kernels::affine_warp(img.data(), H, W, C, fast.data(), m, mode, T(0.5), b, nearest);
                            const std::vector<T> want = plain_warp(img, H, W, C, m, mode, T(0.5), b, nearest);
                            ++warps;
                            if (std::memcmp(fast.data(), want.data(), fast.size() * sizeof(T)) != 0) {
                                ++differing;
                                INFO(H << "x" << W << "x" << C << " trial " << trial << " mode "
                                       << kernels::to_string(mode) << " boundary " << int(b) << " nearest " << nearest);
                                CHECK(fast == want);
                            }
                        }
            }
        }
    }
    INFO(differing << " of " << warps << " warps differ");
    CHECK(differing == 0);
    CHECK(warps > 5000);
}

}  // namespace

TEST_CASE("affine_warp gives sample_taps' floats bit for bit (float)", "[kernels][affine]") { compare_with_plain<float>(11); }

TEST_CASE("affine_warp gives sample_taps' floats bit for bit (double)", "[kernels][affine]") { compare_with_plain<double>(12); }

TEST_CASE("affine_warp_rows over any split of the rows gives affine_warp's image", "[kernels][affine]") {
    Generator g(13);
    const index_t H = 45, W = 77, C = 3;
    std::vector<float> img(std::size_t(H * W * C));
    for (float& v : img) v = static_cast<float>(g.uniform(0, 1));
    for (int kind = 0; kind < 6; ++kind) {
        const Affine2D m = random_map(g, kind, H, W);
        std::vector<float> whole(img.size()), parts(img.size());
        kernels::affine_warp(img.data(), H, W, C, whole.data(), m, FillMode::reflect, 0.f, Boundary::tf);
        for (index_t y0 : {index_t(0), index_t(7), index_t(40)}) {
            const index_t y1 = y0 == 0 ? 7 : y0 == 7 ? 40 : H;
            kernels::affine_warp_rows(img.data(), H, W, C, parts.data(), m, FillMode::reflect, 0.f, Boundary::tf,
                                      false, y0, y1);
        }
        CHECK(whole == parts);
    }
}

TEST_CASE("floor_exact is std::floor for every double", "[kernels][affine]") {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> cases = {0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 0.49999999999999994, -0.49999999999999994,
                                 1.5, 2.5, -2.5, 179.99999999999997, 4503599627370495.5, -4503599627370495.5,
                                 4503599627370496.0, 9007199254740993.0, -9007199254740993.0, 1e300, -1e300,
                                 std::numeric_limits<double>::denorm_min(), -std::numeric_limits<double>::denorm_min(),
                                 inf, -inf};
    Generator g(14);
    for (int i = 0; i < 20000; ++i) cases.push_back(g.uniform(-400, 400));
    for (int i = 0; i < 2000; ++i) cases.push_back(std::ldexp(g.uniform(-1, 1), int(g.uniform(-60, 70))));
    for (double c : cases) {
        const double want = std::floor(c), got = kernels::floor_exact(c);
        INFO(c);
        CHECK(std::memcmp(&want, &got, sizeof(double)) == 0);  // the sign of zero too
    }
    CHECK(std::isnan(kernels::floor_exact(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("flip_copy gives the in-place flips' image", "[kernels][affine]") {
    Generator g(15);
    for (const auto& [H, W] : {std::pair<index_t, index_t>{1, 1}, {1, 6}, {5, 1}, {7, 9}, {8, 8}})
        for (index_t C : {1, 2, 3, 4}) {
            std::vector<float> img(std::size_t(H * W * C));
            for (float& v : img) v = static_cast<float>(g.uniform(-1, 1));
            for (bool h : {false, true})
                for (bool v : {false, true}) {
                    std::vector<float> want = img, got(img.size());
                    if (h) kernels::flip_horizontal(want.data(), H, W, C);
                    if (v) kernels::flip_vertical(want.data(), H, W, C);
                    kernels::flip_copy(img.data(), H, W, C, got.data(), h, v);
                    INFO(H << "x" << W << "x" << C << " h " << h << " v " << v);
                    CHECK(got == want);
                }
        }
}

TEST_CASE("affine_warp on integer pixels (no vector path) gives sample_taps' values", "[kernels][affine]") {
    Generator g(16);
    const index_t H = 11, W = 13;
    for (index_t C : {1, 3, 4}) {
        std::vector<int> img(std::size_t(H * W * C));
        for (int& v : img) v = int(g.uniform(0, 255));
        const Affine2D m = random_map(g, 3, H, W);
        std::vector<int> got(img.size());
        kernels::affine_warp(img.data(), H, W, C, got.data(), m, FillMode::reflect, 7, Boundary::tf);
        CHECK(got == plain_warp(img, H, W, C, m, FillMode::reflect, 7, Boundary::tf, false));
    }
}
