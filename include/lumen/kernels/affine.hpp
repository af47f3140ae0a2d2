// One affine resample of an (H, W, C) image: the geometric core shared by ImageDataGenerator and the
// random augmentation layers (RandomRotation, RandomZoom, RandomTranslation).
//
// The map goes from OUTPUT pixel to INPUT point ("pull" resampling, as scipy.ndimage.affine_transform and TF's
// ImageProjectiveTransformV3 do), in the frame x = column, y = row:
//   x_in = a[0]*x + a[1]*y + a[2],   y_in = a[3]*x + a[4]*y + a[5]
// Two boundary conventions exist, because Keras' two code paths use different samplers:
//   Boundary::scipy  (ImageDataGenerator) order-1 spline; each neighbour INDEX is mapped by the fill mode:
//                    nearest  a a | a b c d | d d            reflect  b a | a b c d | d c   (half-sample)
//                    wrap     period n-1 (scipy's interpolation 'wrap': first and last samples coincide)
//                    constant the whole sample is cval when the point lies outside [0, n-1]
//   Boundary::tf     (preprocessing layers) the fill mode maps the COORDINATE per axis (reflect: c<0 -> -c-1,
//                    c>n-1 -> 2n-c-1 modulo 2n; wrap: modulo n; nearest: clamp), then a point outside the image
//                    reads fill_value and bilinear neighbours outside the image read fill_value.
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

// scipy: maps an integer index into [0, n-1] by the boundary mode; -1 means "outside" (constant).
inline index_t scipy_index(index_t i, index_t n, FillMode mode) {
    if (i >= 0 && i < n) return i;
    switch (mode) {
        case FillMode::nearest: return i < 0 ? 0 : n - 1;
        case FillMode::reflect: {
            const index_t period = 2 * n;
            index_t r = i % period;
            if (r < 0) r += period;
            return r < n ? r : period - 1 - r;
        }
        case FillMode::wrap: {
            if (n == 1) return 0;
            const index_t period = n - 1;
            index_t r = i % period;
            if (r < 0) r += period;
            return r;
        }
        case FillMode::constant: return -1;
    }
    return -1;
}

// TF: maps a coordinate by the fill mode (before interpolation).
inline double tf_coordinate(double c, index_t n, FillMode mode) {
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

// out (H, W, C) = in (H, W, C) resampled through `m` (same size). `nearest_interpolation` rounds the source
// point instead of blending its four neighbours. In and out must not overlap.
template <class T>
void affine_warp(const T* in, index_t H, index_t W, index_t C, T* out, const Affine2D& m, FillMode mode, T cval,
                 Boundary boundary, bool nearest_interpolation = false) {
    const auto& a = m.a;
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x) {
            double xs = a[0] * double(x) + a[1] * double(y) + a[2];
            double ys = a[3] * double(x) + a[4] * double(y) + a[5];
            T* o = out + (y * W + x) * C;
            if (boundary == Boundary::tf) {
                xs = detail::tf_coordinate(xs, W, mode);
                ys = detail::tf_coordinate(ys, H, mode);
            }
            // Constant mode: a point outside the image is cval (scipy >= 1.6 and TF alike). The tolerance
            // absorbs rounding in M (a 90-degree rotation lands on -1e-16 instead of 0).
            constexpr double eps = 1e-9;
            const bool outside = xs < -eps || ys < -eps || xs > double(W - 1) + eps || ys > double(H - 1) + eps;
            if (outside && (mode == FillMode::constant || boundary == Boundary::tf)) {
                for (index_t c = 0; c < C; ++c) o[c] = cval;
                continue;
            }
            if (nearest_interpolation) {
                index_t xi = index_t(std::llround(xs)), yi = index_t(std::llround(ys));
                xi = std::clamp<index_t>(xi, 0, W - 1);
                yi = std::clamp<index_t>(yi, 0, H - 1);
                for (index_t c = 0; c < C; ++c) o[c] = in[(yi * W + xi) * C + c];
                continue;
            }
            const double xf = std::floor(xs), yf = std::floor(ys);
            double fx = xs - xf, fy = ys - yf;
            index_t x0 = index_t(xf), y0 = index_t(yf);
            if (std::abs(fx) < eps) fx = 0;
            if (std::abs(fy) < eps) fy = 0;
            if (fx > 1 - eps) { fx = 0; ++x0; }
            if (fy > 1 - eps) { fy = 0; ++y0; }
            const double w[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
            index_t xi[2], yi[2];
            for (int k = 0; k < 2; ++k) {
                if (boundary == Boundary::scipy) {
                    xi[k] = detail::scipy_index(x0 + k, W, mode);
                    yi[k] = detail::scipy_index(y0 + k, H, mode);
                } else {
                    xi[k] = (x0 + k >= 0 && x0 + k < W) ? x0 + k : -1;
                    yi[k] = (y0 + k >= 0 && y0 + k < H) ? y0 + k : -1;
                }
            }
            for (index_t c = 0; c < C; ++c) {
                double v = 0;
                for (int k = 0; k < 4; ++k) {
                    if (w[k] == 0) continue;
                    const index_t xx = xi[k & 1], yy = yi[k >> 1];
                    v += w[k] * ((xx < 0 || yy < 0) ? double(cval) : double(in[(yy * W + xx) * C + c]));
                }
                o[c] = static_cast<T>(v);
            }
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
