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
#include <string>

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

// A source coordinate within 1e-9 of an integer is that integer (cos 90 degrees is 6e-17, not 0). Shared by
// sample_taps and affine_warp's fast path, so the two snap alike. floor(c + 0.5) finds the integer: it is the
// nearest one whenever c is within 1e-9 of it, and when it is not the answer is c anyway (the two differ only in
// the sign of a snapped zero, which nothing downstream sees); unlike std::round, which GCC leaves as a libm
// call, it is inlined (one instruction with SSE4.1; the two calls per pixel were a fifth of RandomRotation's time).
inline double snap_coordinate(double c) {
    constexpr double eps = 1e-9;
    const double r = std::floor(c + 0.5);
    return std::abs(c - r) < eps ? r : c;
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
    double xs = snap_coordinate(a[0] * double(x) + a[1] * double(y) + a[2]);
    double ys = snap_coordinate(a[3] * double(x) + a[4] * double(y) + a[5]);
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

// out (H, W, C) = in (H, W, C) resampled through `m` (same size). `nearest_interpolation` rounds the source
// point instead of blending its four neighbours. In and out must not overlap.
template <class T>
void affine_warp(const T* in, index_t H, index_t W, index_t C, T* out, const Affine2D& m, FillMode mode, T cval,
                 Boundary boundary, bool nearest_interpolation = false) {
    const auto& a = m.a;
    const double xmax = double(W - 1), ymax = double(H - 1);
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x) {
            // Fast path, same numbers as sample_taps: a source point inside the image is left alone by every
            // fill mode, so its bilinear taps follow directly without the fill-mode mapping.
            const double xs = snap_coordinate(a[0] * double(x) + a[1] * double(y) + a[2]);
            const double ys = snap_coordinate(a[3] * double(x) + a[4] * double(y) + a[5]);
            T* o = out + (y * W + x) * C;
            if (!nearest_interpolation && xs >= 0 && ys >= 0 && xs <= xmax && ys <= ymax) {
                const SampleTaps t = bilinear_taps(xs, ys, H, W);
                for (index_t c = 0; c < C; ++c) {  // the loop below with its tap count fixed at 4
                    double v = 0;
                    for (std::size_t k = 0; k < 4; ++k) v += t.weight[k] * double(in[t.pixel[k] * C + c]);
                    o[c] = static_cast<T>(v);
                }
                continue;
            }
            const SampleTaps t = sample_taps(m, x, y, H, W, mode, boundary, nearest_interpolation);
            if (t.count == 0) {
                for (index_t c = 0; c < C; ++c) o[c] = cval;
                continue;
            }
            for (index_t c = 0; c < C; ++c) {
                double v = 0;
                for (int k = 0; k < t.count; ++k) v += t.weight[std::size_t(k)] * double(in[t.pixel[std::size_t(k)] * C + c]);
                o[c] = static_cast<T>(v);
            }
        }
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

}  // namespace lumen::kernels
