// Image resizing as two separable 1-D passes, with the sampling rules of the two Keras paths.
//
// Every method is a list of (first source index, weights) per output coordinate, applied along width then
// height on interleaved (H, W, C) pixels:
//   nearest              src = min(floor((dst + 0.5) * in/out), in - 1)                (PIL NEAREST == TF nearest)
//   bilinear, TF         src = (dst + 0.5) * in/out - 0.5; neighbours floor(src), +1 clamped to [0, in-1];
//                        no antialiasing (tf.image.resize: image_dataset_from_directory, Resizing)
//   bilinear, PIL        triangle filter whose support widens by max(1, in/out), i.e. antialiased when shrinking,
//                        centred on (dst + 0.5) * in/out (load_img / flow_from_directory with "bilinear")
//   area                 box filter of width in/out: the exact average of the covered source area when
//                        shrinking (TF "area", PIL BOX); nearest-like when enlarging
// Results are rounded and clamped when the output type is uint8. PIL rounds to uint8 between the two passes;
// lumen keeps the intermediate in float (differences of at most 1 grey level).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"

namespace lumen::kernels {

enum class Interpolation { nearest, bilinear, area };

// Keras' interpolation names; "box" is PIL's name for area. `who` names the caller in errors.
inline Interpolation parse_interpolation(const std::string& name, const std::string& who) {
    if (name == "nearest") return Interpolation::nearest;
    if (name == "bilinear") return Interpolation::bilinear;
    if (name == "area" || name == "box") return Interpolation::area;
    fail(who, ": interpolation must be \"nearest\", \"bilinear\" or \"area\" (\"box\"), got \"", name,
         "\" (bicubic, lanczos and hamming are not implemented)");
}
inline std::string to_string(Interpolation m) {
    return m == Interpolation::nearest ? "nearest" : m == Interpolation::bilinear ? "bilinear" : "area";
}

// Weights of one output coordinate: out[i] = sum_k weights[k] * in[first + k].
struct ResampleTaps {
    index_t first = 0;
    std::vector<float> weights;
};

// The taps of every output coordinate for resizing `in` samples to `out` samples.
inline std::vector<ResampleTaps> resample_taps(index_t in, index_t out, Interpolation method, bool antialias) {
    std::vector<ResampleTaps> taps(static_cast<std::size_t>(out));
    const double scale = double(in) / double(out);
    for (index_t i = 0; i < out; ++i) {
        ResampleTaps& t = taps[std::size_t(i)];
        if (method == Interpolation::nearest) {
            t.first = std::min<index_t>(index_t(std::floor((i + 0.5) * scale)), in - 1);
            t.weights = {1.0f};
        } else if (method == Interpolation::bilinear && !antialias) {
            const double src = (i + 0.5) * scale - 0.5;
            const double f = std::floor(src);
            const double frac = src - f;
            const index_t lo = std::clamp<index_t>(index_t(f), 0, in - 1);
            const index_t hi = std::clamp<index_t>(index_t(f) + 1, 0, in - 1);
            t.first = lo;
            if (hi == lo) t.weights = {1.0f};
            else t.weights = {float(1.0 - frac), float(frac)};
        } else {  // PIL-style convolution: triangle (bilinear) or box (area)
            const bool box = method == Interpolation::area;
            const double filterscale = std::max(1.0, scale);
            const double support = (box ? 0.5 : 1.0) * filterscale;
            const double center = (i + 0.5) * scale;
            const index_t lo = std::max<index_t>(index_t(center - support + 0.5), 0);
            const index_t hi = std::min<index_t>(index_t(center + support + 0.5), in);
            double total = 0;
            std::vector<double> w;
            for (index_t x = lo; x < hi; ++x) {
                const double u = (double(x) - center + 0.5) / filterscale;
                const double v = box ? ((u >= -0.5 && u < 0.5) ? 1.0 : 0.0) : std::max(0.0, 1.0 - std::abs(u));
                w.push_back(v);
                total += v;
            }
            t.first = lo;
            if (total <= 0) {
                t.first = std::min<index_t>(index_t(center), in - 1);
                t.weights = {1.0f};
            } else {
                for (double v : w) t.weights.push_back(float(v / total));
            }
        }
    }
    return taps;
}

namespace detail {
template <class Out, class Acc>
inline Out store_pixel(Acc v) {
    // Clamp then add one half: the same as lround for values >= 0, without a library call per pixel.
    if constexpr (std::is_same_v<Out, std::uint8_t>) return std::uint8_t(std::clamp(v, Acc(0), Acc(255)) + Acc(0.5));
    else return static_cast<Out>(v);
}
}  // namespace detail

// in (H, W, C) interleaved -> out (h, w, C). In and Out may be uint8_t, float or double.
template <class In, class Out>
void resize_image(const In* in, index_t H, index_t W, index_t C, Out* out, index_t h, index_t w,
                  Interpolation method, bool antialias) {
    require(H > 0 && W > 0 && h > 0 && w > 0, "resize: sizes must be positive, got ", H, "x", W, " -> ", h, "x", w);
    const auto tx = resample_taps(W, w, method, antialias);
    const auto ty = resample_taps(H, h, method, antialias);
    // float is plenty for 8-bit pixels; double inputs or outputs (gradient checks) keep double precision.
    using Acc = std::conditional_t<std::is_same_v<In, double> || std::is_same_v<Out, double>, double, float>;
    std::vector<Acc> tmp(std::size_t(H * w * C));  // (H, w, C) after the horizontal pass
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < w; ++x) {
            const ResampleTaps& t = tx[std::size_t(x)];
            const float* wk = t.weights.data();
            const auto K = index_t(t.weights.size());
            const In* s = in + (y * W + t.first) * C;
            Acc* d = &tmp[std::size_t((y * w + x) * C)];
            for (index_t c = 0; c < C; ++c) {
                Acc v = 0;  // a local sum stays in a register (d may alias the weights as far as the compiler knows)
                for (index_t k = 0; k < K; ++k) v += Acc(wk[k]) * static_cast<Acc>(s[k * C + c]);
                d[c] = v;
            }
        }
    // Vertical pass as whole-row combinations (contiguous, vectorisable): out row y = sum_k w_k * tmp row.
    std::vector<Acc> acc(std::size_t(w * C));
    for (index_t y = 0; y < h; ++y) {
        const ResampleTaps& t = ty[std::size_t(y)];
        std::fill(acc.begin(), acc.end(), Acc(0));
        for (std::size_t k = 0; k < t.weights.size(); ++k) {
            const Acc wk = Acc(t.weights[k]);
            const Acc* src = &tmp[std::size_t((t.first + index_t(k)) * w * C)];
            for (index_t i = 0; i < w * C; ++i) acc[std::size_t(i)] += wk * src[i];
        }
        Out* dst = out + y * w * C;
        for (index_t i = 0; i < w * C; ++i) dst[i] = detail::store_pixel<Out>(acc[std::size_t(i)]);
    }
}

// The adjoint of resize_image (T = float or double): dx (H, W, C) += R^T dy, dy (h, w, C).
template <class T>
void resize_image_adjoint(const T* dy, index_t h, index_t w, index_t C, T* dx, index_t H, index_t W,
                          Interpolation method, bool antialias) {
    const auto tx = resample_taps(W, w, method, antialias);
    const auto ty = resample_taps(H, h, method, antialias);
    std::vector<double> tmp(std::size_t(H * w * C), 0.0);  // (H, w, C): adjoint of the vertical pass
    for (index_t y = 0; y < h; ++y) {
        const ResampleTaps& t = ty[std::size_t(y)];
        for (std::size_t k = 0; k < t.weights.size(); ++k)
            for (index_t i = 0; i < w * C; ++i)
                tmp[std::size_t((t.first + index_t(k)) * w * C + i)] += t.weights[k] * double(dy[y * w * C + i]);
    }
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < w; ++x) {
            const ResampleTaps& t = tx[std::size_t(x)];
            for (std::size_t k = 0; k < t.weights.size(); ++k)
                for (index_t c = 0; c < C; ++c)
                    dx[(y * W + t.first + index_t(k)) * C + c] +=
                        static_cast<T>(t.weights[k] * tmp[std::size_t((y * w + x) * C + c)]);
        }
}

// The centred crop with the target's aspect ratio (Keras' smart_resize / keep_aspect_ratio):
// crop_h = min(H, W*h/w), crop_w = min(W, H*w/h), integer division, centred with integer offsets; at least one
// pixel each way (a 7-wide image cropped for a 64x1 target would otherwise be 0 wide, and resizing nothing is UB).
struct CropBox {
    index_t top, left, height, width;
};
inline CropBox aspect_crop(index_t H, index_t W, index_t h, index_t w) {
    const index_t ch = std::min(H, std::max<index_t>(1, W * h / w));
    const index_t cw = std::min(W, std::max<index_t>(1, H * w / h));
    return {(H - ch) / 2, (W - cw) / 2, ch, cw};
}

}  // namespace lumen::kernels
