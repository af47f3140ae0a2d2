// One affine resample of an (H, W, C) image: the geometric core shared by ImageDataGenerator and the
// random augmentation layers (RandomRotation, RandomZoom, RandomTranslation).
//
// The map goes from OUTPUT pixel to INPUT point ("pull" resampling, as scipy.ndimage.affine_transform and TF's
// ImageProjectiveTransformV3 do), in the frame x = column, y = row:
//   x_in = a[0]*x + a[1]*y + a[2],   y_in = a[3]*x + a[4]*y + a[5]
// Fill modes map the source COORDINATE per axis before interpolating (scipy's map_coordinate and TF's
// map_coordinate are the same code for these modes):
//   nearest   clamp to [0, n-1]                               a a | a b c d | d d
//   reflect   half-sample symmetric about the outer edges     b a | a b c d | d c
//   wrap      periodic; Boundary::scipy uses scipy's period n-1 (first and last samples coincide:
//             a b c d | b c a b), Boundary::tf uses period n (a b c d | a b c d)
//   constant  a point outside [0, n-1] reads cval (scipy >= 1.6, TF)
// then blend the four neighbours (order 1) or take the nearest one (order 0). ImageDataGenerator samples like
// scipy.ndimage.affine_transform, the preprocessing layers like TF's ImageProjectiveTransformV3.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"

namespace lumen::kernels {

enum class FillMode { constant, nearest, reflect, wrap };
enum class Boundary { scipy, tf };

inline FillMode parse_fill_mode(const std::string& name, const std::string& who) {
    if (name == "constant") return FillMode::constant;
    if (name == "nearest") return FillMode::nearest;
    if (name == "reflect") return FillMode::reflect;
    if (name == "wrap") return FillMode::wrap;
    fail(who, ": fill_mode must be one of \"constant\", \"nearest\", \"reflect\", \"wrap\", got \"", name, "\"");
}
inline std::string to_string(FillMode m) {
    switch (m) {
        case FillMode::constant: return "constant";
        case FillMode::nearest: return "nearest";
        case FillMode::reflect: return "reflect";
        case FillMode::wrap: return "wrap";
    }
    return "";
}

// A 2x3 affine map output (x, y) -> input (x_in, y_in); see the header comment.
struct Affine2D {
    std::array<double, 6> a{1, 0, 0, 0, 1, 0};
    [[nodiscard]] bool is_identity() const { return a == std::array<double, 6>{1, 0, 0, 0, 1, 0}; }
    // The matrix product this·o: o's map is applied to the output coordinate first (Keras' M = R·T·Sh·Z).
    [[nodiscard]] Affine2D operator*(const Affine2D& o) const {
        return {{a[0] * o.a[0] + a[1] * o.a[3], a[0] * o.a[1] + a[1] * o.a[4], a[0] * o.a[2] + a[1] * o.a[5] + a[2],
                 a[3] * o.a[0] + a[4] * o.a[3], a[3] * o.a[1] + a[4] * o.a[4], a[3] * o.a[2] + a[4] * o.a[5] + a[5]}};
    }
    static Affine2D translation(double tx, double ty) { return {{1, 0, tx, 0, 1, ty}}; }
};

namespace detail {

// Maps a coordinate by the fill mode (before interpolation); see the header comment.
inline double map_coordinate(double c, index_t n, FillMode mode, Boundary boundary) {
    const double len = double(n);
    switch (mode) {
        case FillMode::reflect:
            if (c < 0) {
                if (len <= 1) return 0;
                const double sz2 = 2 * len;
                if (c < -sz2) c = c + sz2 * double(index_t(-c / sz2));
                c = c < -len ? c + sz2 : -c - 1;
            } else if (c > len - 1) {
                if (len <= 1) return 0;
                const double sz2 = 2 * len;
                c -= sz2 * double(index_t(c / sz2));
                if (c >= len) c = sz2 - c - 1;
            }
            return std::clamp(c, 0.0, len - 1);
        case FillMode::wrap:
            if (boundary == Boundary::scipy) {  // period n - 1
                if (len <= 1) return 0;
                const double sz = len - 1;
                if (c < 0) c += sz * double(index_t(-c / sz) + 1);
                else if (c > len - 1) c -= sz * double(index_t(c / sz));
                return std::clamp(c, 0.0, len - 1);
            }
            if (c < 0) {
                if (len <= 1) return 0;
                c += len * double(index_t(-c / len) + 1);
            } else if (c > len - 1) {
                if (len <= 1) return 0;
                c -= len * double(index_t(c / len));
            }
            return std::clamp(c, 0.0, len - 1);
        case FillMode::nearest: return std::clamp(c, 0.0, len - 1);
        case FillMode::constant: return c;
    }
    return c;
}

}  // namespace detail

// Where output pixel (x, y) reads from: up to four input pixels (index y*W + x) with weights, or none (the
// fill value). Shared by the warp and its adjoint, so the two can never disagree.
struct SampleTaps {
    int count = 0;
    std::array<index_t, 4> pixel{};
    std::array<double, 4> weight{};
};

// std::floor(c), the same number for every c (-0, infinities and NaN included), in a form GCC vectorises: it
// vectorises std::floor only with -fno-trapping-math, std::rint always. rint(c) is an integer r with
// |r - c| < 1 (in any rounding mode), so floor(c) is r when r <= c and r - 1 (exact) when r > c.
inline double floor_exact(double c) {
    const double r = std::rint(c);
    return r - (r > c ? 1.0 : 0.0);  // no arithmetic inside a branch: GCC if-converts it
}

// A source coordinate within 1e-9 of an integer is that integer (cos 90 degrees is 6e-17, not 0). Shared by
// sample_taps and affine_warp, so the two snap alike. floor(c + 0.5) finds the integer: it is the nearest one
// whenever c is within 1e-9 of it, and when it is not the answer is c anyway (the two differ only in the sign
// of a snapped zero, which nothing downstream sees); unlike std::round, which GCC leaves as a libm call, it is
// inlined and vectorises (through floor_exact). Never returns -0.
inline double snap_coordinate(double c) {
    constexpr double eps = 1e-9;
    const double r = floor_exact(c + 0.5);
    return std::abs(c - r) < eps ? r : c;
}

// One source coordinate of an output pixel, (a_x * x + a_y_times_y) + a_c, computed alike by sample_taps and by
// affine_warp (which takes a_y * y once per row). Where the target has a fused multiply-add, GCC contracts
// `a*b + c` into one by its own choice, and it chose differently in the two callers (seen with -march=native on
// an Intel Xeon, not on AMD Zen 4, whose tuning avoids FMA chains): the points, and so the doubles, then differed
// in the last bits. The FMA is therefore written out where the target has one; the product a_y * y reaches it
// as an addend, which is never contracted.
inline double source_coordinate(double a_x, double x, double a_y_times_y, double a_c) {
#if defined(__FP_FAST_FMA)
    return std::fma(a_x, x, a_y_times_y) + a_c;
#else
    return a_x * x + a_y_times_y + a_c;
#endif
}

// v + w * p, one tap of a bilinear blend, rounded alike wherever it is written (the per-pixel reference in the
// tests, affine_warp's scalar and vector loops): a fused multiply-add where the target has one, else two roundings.
inline double add_tap(double v, double w, double p) {
#if defined(__FP_FAST_FMA)
    return std::fma(w, p, v);
#else
    return v + w * p;
#endif
}

// The four taps of bilinear interpolation at a source point (xs, ys) inside the image.
inline SampleTaps bilinear_taps(double xs, double ys, index_t H, index_t W) {
    const index_t x0 = index_t(std::floor(xs)), y0 = index_t(std::floor(ys));
    const double fx = xs - double(x0), fy = ys - double(y0);
    const index_t x1 = std::min(x0 + 1, W - 1), y1 = std::min(y0 + 1, H - 1);
    SampleTaps t;
    t.count = 4;
    t.pixel = {y0 * W + x0, y0 * W + x1, y1 * W + x0, y1 * W + x1};
    t.weight = {(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx};
    return t;
}

inline SampleTaps sample_taps(const Affine2D& m, index_t x, index_t y, index_t H, index_t W, FillMode mode,
                              Boundary boundary, bool nearest_interpolation) {
    const auto& a = m.a;
    double xs = snap_coordinate(source_coordinate(a[0], double(x), a[1] * double(y), a[2]));
    double ys = snap_coordinate(source_coordinate(a[3], double(x), a[4] * double(y), a[5]));
    SampleTaps t;
    if (mode == FillMode::constant) {
        if (xs < 0 || ys < 0 || xs > double(W - 1) || ys > double(H - 1)) return t;
    } else {
        xs = std::clamp(detail::map_coordinate(xs, W, mode, boundary), 0.0, double(W - 1));
        ys = std::clamp(detail::map_coordinate(ys, H, mode, boundary), 0.0, double(H - 1));
    }
    if (nearest_interpolation) {
        const index_t xi = std::clamp<index_t>(index_t(std::llround(xs)), 0, W - 1);
        const index_t yi = std::clamp<index_t>(index_t(std::llround(ys)), 0, H - 1);
        t.count = 1;
        t.pixel[0] = yi * W + xi;
        t.weight[0] = 1;
        return t;
    }
    return bilinear_taps(xs, ys, H, W);
}

namespace detail {

// affine_warp works on blocks of up to 64 pixels of an output row. Stack arrays: the compiler knows they do
// not overlap, so the branch-free loops over them vectorise, and nothing is allocated.
inline constexpr index_t warp_block = 64;

// The snapped source points (xs, ys) of output pixels x0 .. x0+n-1 of row y, as sample_taps computes them:
// the sum is still (a0 x + a1 y) + a2, with the row's a1 y computed once. Points outside the image are then
// replaced by the fill mode's point inside, or flagged in `fill` for constant mode (returns whether any is).
// The fill mode's mapping is the identity on a coordinate inside [0, n-1] (snap_coordinate never returns -0),
// so mapping only the coordinates outside gives sample_taps' numbers.
inline bool warp_block_points(const Affine2D& m, index_t x0, index_t n, index_t y, index_t H, index_t W,
                              FillMode mode, Boundary boundary, double* xs, double* ys, unsigned char* fill) {
    const double a0 = m.a[0], a2 = m.a[2], a3 = m.a[3], a5 = m.a[5];
    const double a1y = m.a[1] * double(y), a4y = m.a[4] * double(y);
    for (index_t i = 0; i < n; ++i) xs[i] = snap_coordinate(source_coordinate(a0, double(x0 + i), a1y, a2));
    for (index_t i = 0; i < n; ++i) ys[i] = snap_coordinate(source_coordinate(a3, double(x0 + i), a4y, a5));
    const double xmax = double(W - 1), ymax = double(H - 1);
    index_t outside = 0;  // a branch-free count first (vectorises): most blocks lie wholly inside the image
    for (index_t i = 0; i < n; ++i)  // & rather than &&: no branch
        outside += !((xs[i] >= 0) & (xs[i] <= xmax) & (ys[i] >= 0) & (ys[i] <= ymax));
    if (outside == 0) return false;
    bool any_fill = false;
    for (index_t i = 0; i < n; ++i) {
        const bool in_x = xs[i] >= 0 && xs[i] <= xmax, in_y = ys[i] >= 0 && ys[i] <= ymax;
        fill[i] = 0;
        if (in_x && in_y) continue;
        if (mode == FillMode::constant) {  // (0, 0) keeps the taps valid; the pixel is overwritten by cval
            fill[i] = 1;
            xs[i] = ys[i] = 0;
            any_fill = true;
            continue;
        }
        if (!in_x) xs[i] = std::clamp(map_coordinate(xs[i], W, mode, boundary), 0.0, xmax);
        if (!in_y) ys[i] = std::clamp(map_coordinate(ys[i], H, mode, boundary), 0.0, ymax);
    }
    return any_fill;
}

// out (n, C) = the bilinear blend at the points (xs, ys) inside the image: bilinear_taps' taps and weights,
// summed in sample_taps' order in double. The taps are computed for the whole block first (branch-free,
// vectorises), then blended with the channel loop unrolled when CC > 0 fixes the channel count.
template <index_t CC, class T>
void warp_block_bilinear(const T* in, index_t H, index_t W, index_t C, const double* xs, const double* ys,
                         index_t n, T* out) {
    double w00[warp_block], w01[warp_block], w10[warp_block], w11[warp_block];
    index_t base[warp_block], step_x[warp_block], step_y[warp_block];
    const index_t nc = CC > 0 ? CC : C;
    for (index_t i = 0; i < n; ++i) {
        const index_t x0 = index_t(xs[i]), y0 = index_t(ys[i]);  // floor: the points are >= 0
        const double fx = xs[i] - double(x0), fy = ys[i] - double(y0);
        w00[i] = (1 - fy) * (1 - fx);
        w01[i] = (1 - fy) * fx;
        w10[i] = fy * (1 - fx);
        w11[i] = fy * fx;
        base[i] = (y0 * W + x0) * nc;
        step_x[i] = (std::min(x0 + 1, W - 1) - x0) * nc;
        step_y[i] = (std::min(y0 + 1, H - 1) - y0) * W * nc;
    }
    index_t i = 0;
#if defined(__GNUC__)
    if constexpr ((CC == 3 || CC == 4) && (std::is_same_v<T, float> || std::is_same_v<T, double>)) {
        // The channels of a tap as one vector of 4 doubles (GCC vector extension, lowered to what the target
        // has): per lane the same operations in the same order as the scalar loop below. With 3 channels the
        // fourth lane reads the next input value and is discarded, so a pixel whose last tap is the image's last
        // pixel, and the block's last output pixel (the 4-wide store would run past it), take the scalar loop.
        using f4 = float __attribute__((vector_size(16)));
        using d4 = double __attribute__((vector_size(32)));
        const index_t last = H * W * nc - 4;  // the largest offset with 4 values from there on
        const index_t end = CC == 3 ? n - 1 : n;
        for (; i < end; ++i) {
            const index_t sx = step_x[i], sy = step_y[i];
            if (CC == 3 && base[i] + sy + sx > last) break;  // rare: the scalar loop finishes the block
            const T* p = in + base[i];
            const T* q = p + sy;
            // Element by element rather than __builtin_convertvector, which GCC 12 splits in halves.
            const d4 t00 = {double(p[0]), double(p[1]), double(p[2]), double(p[3])};
            const d4 t01 = {double(p[sx]), double(p[sx + 1]), double(p[sx + 2]), double(p[sx + 3])};
            const d4 t10 = {double(q[0]), double(q[1]), double(q[2]), double(q[3])};
            const d4 t11 = {double(q[sx]), double(q[sx + 1]), double(q[sx + 2]), double(q[sx + 3])};
            d4 v = {0, 0, 0, 0};
            for (int l = 0; l < 4; ++l) v[l] = add_tap(v[l], w00[i], t00[l]);  // lane by lane: add_tap's rounding
            for (int l = 0; l < 4; ++l) v[l] = add_tap(v[l], w01[i], t01[l]);
            for (int l = 0; l < 4; ++l) v[l] = add_tap(v[l], w10[i], t10[l]);
            for (int l = 0; l < 4; ++l) v[l] = add_tap(v[l], w11[i], t11[l]);
            T* o = out + i * nc;
            if constexpr (std::is_same_v<T, float>) {
                const f4 r = __builtin_convertvector(v, f4);
                std::memcpy(o, &r, sizeof r);  // with 3 channels the fourth value is overwritten by the next pixel
            } else {
                std::memcpy(o, &v, sizeof v);
            }
        }
    }
#endif
    for (; i < n; ++i) {
        const T* p = in + base[i];
        const T* q = p + step_y[i];
        const index_t sx = step_x[i];
        T* o = out + i * nc;
        for (index_t c = 0; c < nc; ++c) {
            double v = 0;
            v = add_tap(v, w00[i], double(p[c]));
            v = add_tap(v, w01[i], double(p[sx + c]));
            v = add_tap(v, w10[i], double(q[c]));
            v = add_tap(v, w11[i], double(q[sx + c]));
            o[c] = static_cast<T>(v);
        }
    }
}

}  // namespace detail

// Rows [y_begin, y_end) of affine_warp (below). Output pixels are independent, so an image can be split between
// threads, and its pixels visited in any order, with the same result.
template <class T>
void affine_warp_rows(const T* in, index_t H, index_t W, index_t C, T* out, const Affine2D& m, FillMode mode, T cval,
                      Boundary boundary, bool nearest_interpolation, index_t y_begin, index_t y_end) {
    // A map with a rotation or shear reads the input along slanted lines that the hardware prefetcher does not
    // follow: the whole input image is fetched first (sequentially), and the output visited in tiles of 32 x 32
    // pixels, whose inputs stay in L1 (on the flowers batch at 1 thread this took RandomRotation from 14 to
    // 9 ms). An axis-aligned map (zoom, translation) reads rows in order and is fastest row by row (in tiles
    // RandomZoom went from 6 to 8 ms).
    const bool slanted = m.a[1] != 0 || m.a[3] != 0;
    const index_t band = slanted ? 32 : 1, block = slanted ? 32 : detail::warp_block;
#if defined(__GNUC__)
    if (slanted) {
        const char* bytes = reinterpret_cast<const char*>(in);
        for (std::size_t k = 0; k < std::size_t(H * W * C) * sizeof(T); k += 64) __builtin_prefetch(bytes + k);
    }
#endif
    double xs[detail::warp_block], ys[detail::warp_block];
    unsigned char fill[detail::warp_block];
    for (index_t yb = y_begin; yb < y_end; yb += band)
        for (index_t x0 = 0; x0 < W; x0 += block)
            for (index_t y = yb; y < std::min(y_end, yb + band); ++y) {
                const index_t n = std::min(block, W - x0);
                T* o = out + (y * W + x0) * C;
                const bool any_fill = detail::warp_block_points(m, x0, n, y, H, W, mode, boundary, xs, ys, fill);
                if (nearest_interpolation) {  // sample_taps' rounding of the (mapped) source point; 0 + 1 * value
                    for (index_t i = 0; i < n; ++i) {
                        const index_t xi = std::clamp<index_t>(index_t(std::llround(xs[i])), 0, W - 1);
                        const index_t yi = std::clamp<index_t>(index_t(std::llround(ys[i])), 0, H - 1);
                        for (index_t c = 0; c < C; ++c)
                            o[i * C + c] = static_cast<T>(0.0 + double(in[(yi * W + xi) * C + c]));
                    }
                } else {
                    switch (C) {
                        case 1: detail::warp_block_bilinear<1>(in, H, W, C, xs, ys, n, o); break;
                        case 3: detail::warp_block_bilinear<3>(in, H, W, C, xs, ys, n, o); break;
                        case 4: detail::warp_block_bilinear<4>(in, H, W, C, xs, ys, n, o); break;
                        default: detail::warp_block_bilinear<0>(in, H, W, C, xs, ys, n, o); break;
                    }
                }
                if (any_fill)
                    for (index_t i = 0; i < n; ++i)
                        if (fill[i])
                            for (index_t c = 0; c < C; ++c) o[i * C + c] = cval;
            }
}

// out (H, W, C) = in (H, W, C) resampled through `m` (same size). `nearest_interpolation` rounds the source
// point instead of blending its four neighbours. In and out must not overlap. Every output pixel gets exactly
// sample_taps' taps and weights, summed in the same order in double (tests/test_affine_fast.cpp compares the
// two bit for bit), but in blocks of up to 64 pixels of a row: the block's source points first (branch-free,
// vectorised), the fill mode only for points outside the image, then the block's taps, then the blend, with
// 3 or 4 channels as one vector.
template <class T>
void affine_warp(const T* in, index_t H, index_t W, index_t C, T* out, const Affine2D& m, FillMode mode, T cval,
                 Boundary boundary, bool nearest_interpolation = false) {
    affine_warp_rows(in, H, W, C, out, m, mode, cval, boundary, nearest_interpolation, 0, H);
}

// The adjoint (transpose) of affine_warp for a fixed map: dx (H, W, C) += A^T dy. Fill pixels pass nothing back.
template <class T>
void affine_warp_adjoint(const T* dy, index_t H, index_t W, index_t C, T* dx, const Affine2D& m, FillMode mode,
                         Boundary boundary, bool nearest_interpolation = false) {
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x) {
            const SampleTaps t = sample_taps(m, x, y, H, W, mode, boundary, nearest_interpolation);
            const T* g = dy + (y * W + x) * C;
            for (int k = 0; k < t.count; ++k)
                for (index_t c = 0; c < C; ++c)
                    dx[t.pixel[std::size_t(k)] * C + c] += static_cast<T>(t.weight[std::size_t(k)] * double(g[c]));
        }
}

// Reverses columns (horizontal flip) or rows (vertical flip) of an (H, W, C) image in place.
template <class T>
void flip_horizontal(T* img, index_t H, index_t W, index_t C) {
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W / 2; ++x)
            for (index_t c = 0; c < C; ++c) std::swap(img[(y * W + x) * C + c], img[(y * W + (W - 1 - x)) * C + c]);
}
template <class T>
void flip_vertical(T* img, index_t H, index_t W, index_t C) {
    for (index_t y = 0; y < H / 2; ++y)
        for (index_t i = 0; i < W * C; ++i) std::swap(img[y * W * C + i], img[(H - 1 - y) * W * C + i]);
}

// out (H, W, C) = in flipped left-right and/or up-down (a plain copy when neither). In and out must not overlap.
// Row by row: a forward copy (streams at memory speed), then a left-right flip in place while the row is in L1.
template <class T>
void flip_copy(const T* in, index_t H, index_t W, index_t C, T* out, bool horizontal, bool vertical) {
    const index_t row = W * C;
    for (index_t y = 0; y < H; ++y) {
        const T* src = in + (vertical ? H - 1 - y : y) * row;
        T* dst = out + y * row;
        std::copy(src, src + row, dst);
        if (horizontal) flip_horizontal(dst, 1, W, C);
    }
}

}  // namespace lumen::kernels
