// Every fast convolution/pooling kernel against a plain loop written here, on random shapes, with 1 and 2
// threads: im2col/col2im, the GEMM wrappers (gemm_nn_bias_act's fused epilogue too), Conv2D forward/backward
// (tiled im2col path, 1x1 path, several tiles per image, fused bias + activation) and the pooling kernels
// (including ties for max pooling).
// The plain loops compute the TF padding rule on their own, so they do not share code with what they check.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/kernels/gemm.hpp"
#include "lumen/kernels/im2col.hpp"
#include "lumen/kernels/pooling.hpp"
#include "lumen/layers/Conv2D.hpp"

using namespace lumen;
using kernels::Size2;

namespace {

Tensor<float> random_float(const Shape& s, Generator& g, float lo = -1, float hi = 1) {
    Tensor<float> t(s);
    for (auto& v : t) v = static_cast<float>(g.uniform(lo, hi));
    return t;
}

// TF's rule, written out independently of conv_geometry(): returns (out, pad_before).
std::pair<index_t, index_t> tf_axis(index_t n, index_t k, index_t s, index_t d, bool same) {
    const index_t keff = (k - 1) * d + 1;
    if (!same) return {(n - keff) / s + 1, 0};
    const index_t out = (n + s - 1) / s;
    const index_t total = std::max<index_t>((out - 1) * s + keff - n, 0);
    return {out, total / 2};
}

void check_near(const char* what, const Tensor<float>& got, const std::vector<double>& want, double tol = 1e-4) {
    REQUIRE(static_cast<std::size_t>(got.size()) == want.size());
    double worst = 0;
    for (index_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - want[static_cast<std::size_t>(i)]) /
                                    (1.0 + std::abs(want[static_cast<std::size_t>(i)])));
    INFO(what << ": worst relative difference " << worst);
    CHECK(worst <= tol);
}

struct Conv {
    index_t n, h, w, c, f;
    Size2 k, s, d;
    bool same;
    const char* activation;  // "linear", "relu" or "swish" (the plain loop knows these)
};

// Plain convolution: y = act(sum x*W + b), then dX, dW, db for upstream dy.
struct PlainConv {
    std::vector<double> y, dx, dw, db;
};
PlainConv plain_conv(const Conv& p, const Tensor<float>& x, const Tensor<float>& W, const Tensor<float>& b,
                     const Tensor<float>& dy) {
    const auto [oh_n, pt] = tf_axis(p.h, p.k.h, p.s.h, p.d.h, p.same);
    const auto [ow_n, pl] = tf_axis(p.w, p.k.w, p.s.w, p.d.w, p.same);
    const bool relu = std::string(p.activation) == "relu", swish = std::string(p.activation) == "swish";
    PlainConv r;
    r.y.assign(static_cast<std::size_t>(p.n * oh_n * ow_n * p.f), 0);
    r.dx.assign(static_cast<std::size_t>(x.size()), 0);
    r.dw.assign(static_cast<std::size_t>(W.size()), 0);
    r.db.assign(static_cast<std::size_t>(p.f), 0);
    auto widx = [&](index_t i, index_t j, index_t c, index_t f) { return ((i * p.k.w + j) * p.c + c) * p.f + f; };
    for (index_t n = 0; n < p.n; ++n)
        for (index_t oh = 0; oh < oh_n; ++oh)
            for (index_t ow = 0; ow < ow_n; ++ow)
                for (index_t f = 0; f < p.f; ++f) {
                    double s = b[f];
                    for (index_t i = 0; i < p.k.h; ++i)
                        for (index_t j = 0; j < p.k.w; ++j) {
                            const index_t ih = oh * p.s.h - pt + i * p.d.h, iw = ow * p.s.w - pl + j * p.d.w;
                            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
                            for (index_t c = 0; c < p.c; ++c) s += double(x.at(n, ih, iw, c)) * W[widx(i, j, c, f)];
                        }
                    const std::size_t o = static_cast<std::size_t>(((n * oh_n + oh) * ow_n + ow) * p.f + f);
                    const double sig = 1 / (1 + std::exp(-s));
                    r.y[o] = relu ? std::max(s, 0.0) : swish ? s * sig : s;
                    double dz = relu && s <= 0 ? 0.0 : double(dy[static_cast<index_t>(o)]);
                    if (swish) dz *= sig + s * sig * (1 - sig);
                    r.db[static_cast<std::size_t>(f)] += dz;
                    for (index_t i = 0; i < p.k.h; ++i)
                        for (index_t j = 0; j < p.k.w; ++j) {
                            const index_t ih = oh * p.s.h - pt + i * p.d.h, iw = ow * p.s.w - pl + j * p.d.w;
                            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w) continue;
                            for (index_t c = 0; c < p.c; ++c) {
                                r.dw[static_cast<std::size_t>(widx(i, j, c, f))] += double(x.at(n, ih, iw, c)) * dz;
                                r.dx[static_cast<std::size_t>(((n * p.h + ih) * p.w + iw) * p.c + c)] +=
                                    double(W[widx(i, j, c, f)]) * dz;
                            }
                        }
                }
    return r;
}

}  // namespace

TEST_CASE("im2col and col2im match plain loops", "[kernels]") {
    Generator g(1);
    const Conv shapes[] = {{2, 7, 6, 3, 1, 3, 1, 1, true, ""},  {1, 8, 9, 2, 1, {3, 2}, {2, 1}, 1, true, ""},
                           {2, 9, 9, 4, 1, 3, 1, 2, false, ""}, {1, 5, 7, 1, 1, 5, 2, 1, true, ""},
                           {2, 6, 6, 2, 1, 2, 1, {2, 3}, true, ""},
                           // windows wholly inside the image (im2col's no-bounds path): grey 3x3 (3-float runs),
                           // row dilation only, RGB stride 2, and a grey 'same' layer mixing both paths
                           {2, 8, 7, 1, 1, 3, 1, 1, false, ""}, {1, 9, 8, 1, 1, 3, 1, {2, 1}, false, ""},
                           {2, 7, 9, 3, 1, 3, 2, 1, false, ""}, {2, 6, 7, 1, 1, 3, 1, 1, true, ""}};
    for (const Conv& p : shapes) {
        const auto geo = kernels::conv_geometry(p.n, p.h, p.w, p.c, p.k, p.s, p.d,
                                                p.same ? kernels::Padding::same : kernels::Padding::valid, "t");
        const auto [oh_n, pt] = tf_axis(p.h, p.k.h, p.s.h, p.d.h, p.same);
        const auto [ow_n, pl] = tf_axis(p.w, p.k.w, p.s.w, p.d.w, p.same);
        REQUIRE(geo.oh == oh_n);
        REQUIRE(geo.ow == ow_n);
        const Tensor<float> x = random_float(Shape{p.n, p.h, p.w, p.c}, g);
        const index_t M = geo.rows(), K = geo.patch();
        // Gather in two uneven pieces to check the row-range arithmetic.
        std::vector<float> cols(static_cast<std::size_t>(M * K), -7.0f);
        const index_t split = M / 3 + 1;
        kernels::im2col(geo, x.data(), 0, split, cols.data());
        kernels::im2col(geo, x.data(), split, M - split, cols.data() + split * K);
        const Tensor<float> dcols = random_float(Shape{M, K}, g);
        Tensor<float> dx(x.shape());
        kernels::col2im_add(geo, dcols.data(), 0, split, dx.data());
        kernels::col2im_add(geo, dcols.data() + split * K, split, M - split, dx.data());
        std::vector<double> want_dx(static_cast<std::size_t>(x.size()), 0.0);
        int mismatches = 0;
        for (index_t n = 0; n < p.n; ++n)
            for (index_t oh = 0; oh < oh_n; ++oh)
                for (index_t ow = 0; ow < ow_n; ++ow)
                    for (index_t i = 0; i < p.k.h; ++i)
                        for (index_t j = 0; j < p.k.w; ++j)
                            for (index_t c = 0; c < p.c; ++c) {
                                const index_t r = (n * oh_n + oh) * ow_n + ow, col = (i * p.k.w + j) * p.c + c;
                                const index_t ih = oh * p.s.h - pt + i * p.d.h, iw = ow * p.s.w - pl + j * p.d.w;
                                const bool inside = ih >= 0 && ih < p.h && iw >= 0 && iw < p.w;
                                const float want = inside ? x.at(n, ih, iw, c) : 0.0f;
                                mismatches += cols[static_cast<std::size_t>(r * K + col)] != want;
                                if (inside)
                                    want_dx[static_cast<std::size_t>(((n * p.h + ih) * p.w + iw) * p.c + c)] +=
                                        dcols[r * K + col];
                            }
        CHECK(mismatches == 0);
        check_near("col2im", dx, want_dx, 1e-6);
    }
}

TEST_CASE("GEMM wrappers match a plain triple loop, on tiles with leading dimensions", "[kernels]") {
    Generator g(2);
    const index_t M = 37, N = 19, K = 23, pad = 5;
    const Tensor<float> A = random_float(Shape{M, K + pad}, g), At = random_float(Shape{K, M + pad}, g);
    const Tensor<float> B = random_float(Shape{K, N + pad}, g), Bt = random_float(Shape{N, K + pad}, g);
    const Tensor<float> C0 = random_float(Shape{M, N + pad}, g);
    auto run = [&](int which, bool acc) {
        Tensor<float> C = C0;
        std::vector<double> want(static_cast<std::size_t>(C.size()));
        for (index_t i = 0; i < C.size(); ++i) want[static_cast<std::size_t>(i)] = C0[i];
        for (index_t i = 0; i < M; ++i)
            for (index_t j = 0; j < N; ++j) {
                double s = acc ? C0[i * (N + pad) + j] : 0.0;
                for (index_t k = 0; k < K; ++k) {
                    const double a = which == 1 ? At[k * (M + pad) + i] : A[i * (K + pad) + k];
                    const double b = which == 2 ? Bt[j * (K + pad) + k] : B[k * (N + pad) + j];
                    s += a * b;
                }
                want[static_cast<std::size_t>(i * (N + pad) + j)] = s;
            }
        if (which == 0) kernels::gemm_nn(M, N, K, A.data(), K + pad, B.data(), N + pad, C.data(), N + pad, acc);
        if (which == 1) kernels::gemm_tn(M, N, K, At.data(), M + pad, B.data(), N + pad, C.data(), N + pad, acc);
        if (which == 2) kernels::gemm_nt(M, N, K, A.data(), K + pad, Bt.data(), K + pad, C.data(), N + pad, acc);
        INFO("gemm variant " << which << " accumulate " << acc);
        check_near("gemm", C, want, 1e-5);  // also proves the padding columns are left alone
    };
    for (int which : {0, 1, 2})
        for (bool acc : {false, true}) run(which, acc);
}

TEST_CASE("gemm_nn_bias_act matches a plain loop: bias, ReLU and the kept 0/1 mask, on tiles", "[kernels]") {
    Generator g(3);
    const index_t pad = 3;
    for (const index_t M : {1, 13, 50})
        for (const index_t N : {3, 16, 17, 40, 64, 70, 130})
            for (const index_t K : {1, 27, 40})
                for (const bool relu : {false, true})
                    for (const bool with_bias : {false, true}) {
                        const Tensor<float> A = random_float(Shape{M, K + pad}, g);
                        const Tensor<float> B = random_float(Shape{K, N + pad}, g);
                        const Tensor<float> bias = random_float(Shape{N}, g);
                        Tensor<float> C = random_float(Shape{M, N + pad}, g);
                        std::vector<std::uint8_t> positive(static_cast<std::size_t>(C.size()), 7);
                        std::vector<double> want(static_cast<std::size_t>(C.size()));
                        std::vector<std::uint8_t> want_positive(positive);  // padding columns must be left alone
                        for (index_t i = 0; i < C.size(); ++i) want[static_cast<std::size_t>(i)] = C[i];
                        for (index_t i = 0; i < M; ++i)
                            for (index_t j = 0; j < N; ++j) {
                                double s = with_bias ? bias[j] : 0.0;
                                for (index_t k = 0; k < K; ++k)
                                    s += double(A[i * (K + pad) + k]) * B[k * (N + pad) + j];
                                if (relu) s = std::max(s, 0.0);
                                want[static_cast<std::size_t>(i * (N + pad) + j)] = s;
                            }
                        kernels::gemm_nn_bias_act(M, N, K, A.data(), K + pad, B.data(), N + pad, C.data(), N + pad,
                                                  with_bias ? bias.data() : nullptr, relu, positive.data(), N + pad);
                        INFO("M " << M << " N " << N << " K " << K << " relu " << relu << " bias " << with_bias);
                        check_near("C", C, want, 1e-5);
                        // The mask follows the stored float (values within rounding of 0 may differ from the
                        // double reference, so compare with what was stored).
                        int wrong = 0;
                        for (index_t i = 0; i < M; ++i)
                            for (index_t j = 0; j < N + pad; ++j) {
                                const auto at = static_cast<std::size_t>(i * (N + pad) + j);
                                const std::uint8_t expect = j < N ? (C[i * (N + pad) + j] > 0 ? 1 : 0) : want_positive[at];
                                wrong += positive[at] != expect;
                            }
                        CHECK(wrong == 0);
                    }
}

TEST_CASE("Conv2D forward and backward match a plain convolution loop with 1 and 2 threads", "[kernels][conv2d]") {
    const Conv cases[] = {
        {2, 35, 33, 16, 8, 3, 1, 1, true, "relu"},     // K = 144: 3 tiles forward, 2 per image backward
        {2, 40, 37, 64, 6, 1, 1, 1, false, "linear"},  // 1x1 stride 1: no im2col, 2 tiles forward
        {3, 23, 29, 5, 7, 3, 1, 1, true, "swish"},
        {2, 9, 11, 3, 4, 1, 2, 1, true, "relu"},       // 1x1 stride 2: im2col
        {2, 13, 12, 4, 5, {5, 3}, {2, 3}, 1, true, "linear"},
        {1, 15, 14, 3, 8, 3, 1, {2, 3}, false, "relu"},
        {4, 6, 6, 16, 32, 3, 2, 1, false, "linear"},
        {2, 33, 31, 3, 16, 3, 1, 1, true, "relu"},     // the first flowers layer, smaller
        {2, 17, 15, 16, 40, 3, 1, 1, true, "relu"},    // fused bias + ReLU over 3 vectors, the last masked
        {2, 12, 13, 8, 64, 3, 1, 1, false, "linear"},  // fused bias over 4 full vectors
    };
    const int saved = num_threads();
    int index = 0;
    for (const Conv& p : cases) {
        Generator g(40 + index);
        const Tensor<float> x = random_float(Shape{p.n, p.h, p.w, p.c}, g);
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            layers::Conv2D<float> conv(p.f, p.k,
                                       {.strides = p.s, .padding = p.same ? "same" : "valid", .dilation_rate = p.d,
                                        .activation = p.activation, .bias_initializer = "glorot_uniform"});
            conv.build(x.shape().without_batch(), 9);
            const Tensor<float> y = conv.forward(x, true);
            Generator gy(77);
            const Tensor<float> dy = random_float(y.shape(), gy);
            conv.zero_grad();
            const Tensor<float> dx = conv.backward(dy);
            const PlainConv want = plain_conv(p, x, conv.kernel().value, conv.bias().value, dy);
            INFO("case " << index << " threads " << threads);
            check_near("forward", y, want.y);
            check_near("dx", dx, want.dx);
            check_near("dW", conv.kernel().grad, want.dw);
            check_near("db", conv.bias().grad, want.db);
            // A second forward/backward reuses the workspace and must give the same numbers again.
            conv.forward(x, true);
            conv.zero_grad();
            const Tensor<float> dx2 = conv.backward(dy);
            CHECK(std::equal(dx.begin(), dx.end(), dx2.begin()));
        }
        ++index;
    }
    set_num_threads(saved);
}

namespace {
// Plain pooling: max with the first maximum in row-major window order, average over real cells.
void plain_pool(const kernels::ConvGeometry& g, bool max, const Tensor<float>& x, const Tensor<float>& dy,
                std::vector<double>& y, std::vector<double>& dx) {
    y.assign(static_cast<std::size_t>(g.n * g.oh * g.ow * g.c), 0);
    dx.assign(static_cast<std::size_t>(x.size()), 0);
    for (index_t n = 0; n < g.n; ++n)
        for (index_t oh = 0; oh < g.oh; ++oh)
            for (index_t ow = 0; ow < g.ow; ++ow)
                for (index_t c = 0; c < g.c; ++c) {
                    double best = 0, sum = 0;
                    index_t best_at = -1, count = 0;
                    for (index_t i = 0; i < g.kh; ++i)
                        for (index_t j = 0; j < g.kw; ++j) {
                            const index_t ih = oh * g.sh - g.pad_top + i, iw = ow * g.sw - g.pad_left + j;
                            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                            const index_t at = ((n * g.h + ih) * g.w + iw) * g.c + c;
                            if (best_at < 0 || x[at] > best) best = x[at], best_at = at;
                            sum += x[at];
                            ++count;
                        }
                    const index_t o = ((n * g.oh + oh) * g.ow + ow) * g.c + c;
                    y[static_cast<std::size_t>(o)] = max ? best : sum / double(count);
                    if (max) {
                        dx[static_cast<std::size_t>(best_at)] += dy[o];
                        continue;
                    }
                    for (index_t i = 0; i < g.kh; ++i)
                        for (index_t j = 0; j < g.kw; ++j) {
                            const index_t ih = oh * g.sh - g.pad_top + i, iw = ow * g.sw - g.pad_left + j;
                            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                            dx[static_cast<std::size_t>(((n * g.h + ih) * g.w + iw) * g.c + c)] +=
                                dy[o] / double(count);
                        }
                }
}
}  // namespace

TEST_CASE("Pooling kernels match plain loops, ties included, with 1 and 2 threads", "[kernels][pooling]") {
    struct P {
        index_t n, h, w, c;
        Size2 k, s;
        bool same;
    };
    const P cases[] = {{2, 7, 7, 3, 2, 2, false}, {2, 6, 8, 3, 2, 2, false}, {2, 7, 7, 2, 2, 2, true}, {3, 9, 8, 5, 3, 1, true},
                       {2, 11, 10, 4, 3, 2, true},  {1, 6, 9, 1, {3, 2}, {1, 2}, false},
                       {8, 45, 45, 32, 2, 2, false},  // big enough for two threads
                       {2, 9, 7, 16, 2, 2, false}, {3, 8, 11, 37, 2, 2, false}};  // 16-channel runs and a remainder
    const int saved = num_threads();
    for (const P& p : cases)
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            const auto g = kernels::conv_geometry(p.n, p.h, p.w, p.c, p.k, p.s, 1,
                                                  p.same ? kernels::Padding::same : kernels::Padding::valid, "t");
            Generator rng(3);
            Tensor<float> x(Shape{p.n, p.h, p.w, p.c});
            for (auto& v : x) v = static_cast<float>(rng.below(4)) - 2.5f;  // 4 values: many ties; mostly negative, so a padded 0 would win if it could
            const Tensor<float> dy = random_float(Shape{g.n, g.oh, g.ow, g.c}, rng);
            for (bool max : {true, false}) {
                std::vector<double> want_y, want_dx;
                plain_pool(g, max, x, dy, want_y, want_dx);
                Tensor<float> y(dy.shape()), dx(x.shape());
                std::vector<index_t> argmax(static_cast<std::size_t>(y.size()));
                if (max) {
                    kernels::max_pool2d_forward(g, x.data(), y.data(), argmax.data());
                    kernels::max_pool2d_backward(g, dy.data(), argmax.data(), dx.data());
                } else {
                    kernels::average_pool2d_forward(g, x.data(), y.data());
                    kernels::average_pool2d_backward(g, dy.data(), dx.data());
                }
                INFO((max ? "max" : "average") << " pooling, " << threads << " threads, input "
                                               << x.shape().to_string());
                check_near("y", y, want_y, 1e-6);
                check_near("dx", dx, want_dx, 1e-6);
                if (max && kernels::max_pool2x2_applies(g)) {  // MaxPooling2D's one-byte-winner path
                    Tensor<float> y2(dy.shape()), dx2(x.shape());
                    for (auto& v : dx2) v = std::numeric_limits<float>::quiet_NaN();  // every cell must be written
                    std::vector<std::uint8_t> winner(static_cast<std::size_t>(y.size()));
                    kernels::max_pool2x2_forward(g, x.data(), y2.data(), winner.data());
                    kernels::max_pool2x2_backward(g, dy.data(), winner.data(), dx2.data());
                    INFO("2x2 path");
                    check_near("y", y2, want_y, 1e-6);
                    check_near("dx", dx2, want_dx, 1e-6);
                }
            }
            // Global pooling = one window over the whole image.
            std::vector<double> gy(static_cast<std::size_t>(p.n * p.c), 0), gmax(gy.size(), -1e30);
            std::vector<double> gdx(static_cast<std::size_t>(x.size()), 0);
            std::vector<index_t> first(gy.size(), -1);
            for (index_t n = 0; n < p.n; ++n)
                for (index_t q = 0; q < p.h * p.w; ++q)
                    for (index_t c = 0; c < p.c; ++c) {
                        const index_t at = (n * p.h * p.w + q) * p.c + c;
                        const auto o = static_cast<std::size_t>(n * p.c + c);
                        gy[o] += x[at] / double(p.h * p.w);
                        if (x[at] > gmax[o]) gmax[o] = x[at], first[o] = at;
                        gdx[static_cast<std::size_t>(at)] = dy[n * p.c + c] / double(p.h * p.w);
                    }
            Tensor<float> y(Shape{p.n, p.c}), dx(x.shape());
            kernels::global_average_pool_forward(p.n, p.h * p.w, p.c, x.data(), y.data());
            kernels::global_average_pool_backward(p.n, p.h * p.w, p.c, dy.data(), dx.data());
            check_near("global average y", y, gy, 1e-6);
            check_near("global average dx", dx, gdx, 1e-6);
            std::vector<index_t> argmax(gy.size());
            kernels::global_max_pool_forward(p.n, p.h * p.w, p.c, x.data(), y.data(), argmax.data());
            check_near("global max y", y, gmax, 0);
            for (std::size_t o = 0; o < gy.size(); ++o) CHECK(argmax[o] == first[o]);
        }
    set_num_threads(saved);
}
