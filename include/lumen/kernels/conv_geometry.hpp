// Output sizes and padding of Conv2D and the 2-D poolings, by TensorFlow's rule.
//
// Per spatial axis, with input size n, window k, stride s, dilation d and k_eff = (k - 1)*d + 1:
//   valid: out = floor((n - k_eff)/s) + 1, no padding (rows past the last full window are ignored)
//   same:  out = ceil(n/s), pad_total = max((out - 1)*s + k_eff - n, 0),
//          pad_before = pad_total/2, pad_after = pad_total - pad_before   (an odd pad goes bottom/right)
// Output element o reads input indices o*s - pad_before + i*d, i = 0..k-1; indices outside [0, n) are padding.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <sstream>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"

namespace lumen::kernels {

// A (height, width) pair that also accepts one int for both, as Keras' kernel_size / strides / pool_size do:
// Size2(3) == Size2(3, 3).
struct Size2 {
    index_t h = 1;
    index_t w = 1;
    Size2() = default;
    Size2(index_t both) : h(both), w(both) {}  // NOLINT: implicit on purpose, `.strides = 2`
    Size2(index_t height, index_t width) : h(height), w(width) {}
    friend bool operator==(const Size2&, const Size2&) = default;
};

// "3,3" — the text used in layer configs.
inline std::string size2_to_string(const Size2& s) { return std::to_string(s.h) + "," + std::to_string(s.w); }
// Reverses size2_to_string; also accepts "3" (both) and "(3, 3)".
inline Size2 size2_from_string(std::string text, const std::string& where) {
    for (char& ch : text)
        if (ch == '(' || ch == ')' || ch == ',') ch = ' ';
    std::istringstream in(text);
    index_t a = 0, b = 0;
    require(static_cast<bool>(in >> a), where, ": cannot read a size from \"", text, "\"");
    if (!(in >> b)) b = a;
    return {a, b};
}

enum class Padding { valid, same };

inline Padding padding_from_name(const std::string& name, const std::string& where) {
    if (name == "valid") return Padding::valid;
    if (name == "same") return Padding::same;
    fail(where, ": padding must be \"valid\" or \"same\", got \"", name, "\"");
}
inline std::string padding_name(Padding p) { return p == Padding::same ? "same" : "valid"; }

// One spatial axis: input size, output size and the zero rows/columns added before and after.
struct AxisGeometry {
    index_t in = 0;
    index_t out = 0;
    index_t pad_before = 0;
    index_t pad_after = 0;
};

// The TF rule for one axis. `where` and `axis` ("height"/"width") name the caller in errors.
inline AxisGeometry axis_geometry(index_t n, index_t k, index_t s, index_t d, Padding p, const std::string& where,
                                  const char* axis) {
    require(k >= 1, where, ": window size must be >= 1 along the ", axis, ", got ", k);
    require(s >= 1, where, ": strides must be >= 1 along the ", axis, ", got ", s);
    require(d >= 1, where, ": dilation_rate must be >= 1 along the ", axis, ", got ", d);
    require(n >= 1, where, ": input ", axis, " must be >= 1, got ", n);
    const index_t k_eff = (k - 1) * d + 1;
    AxisGeometry a;
    a.in = n;
    if (p == Padding::valid) {
        require(n >= k_eff, where, ": with padding=\"valid\" the window (", k_eff, " along the ", axis,
                k_eff != k ? " after dilation" : "", ") is larger than the input ", axis, " ", n,
                "; use padding=\"same\", a smaller kernel/pool size, or a larger input");
        a.out = (n - k_eff) / s + 1;
    } else {
        a.out = (n + s - 1) / s;
        const index_t total = std::max<index_t>((a.out - 1) * s + k_eff - n, 0);
        a.pad_before = total / 2;
        a.pad_after = total - a.pad_before;
    }
    return a;
}

// Everything a 2-D convolution or pooling over a (N, H, W, C) NHWC batch needs to know.
struct ConvGeometry {
    index_t n = 0, h = 0, w = 0, c = 0;      // input (N, H, W, C)
    index_t kh = 1, kw = 1;                  // window
    index_t sh = 1, sw = 1;                  // strides
    index_t dh = 1, dw = 1;                  // dilation
    index_t oh = 0, ow = 0;                  // output spatial size
    index_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;

    // Rows of the im2col matrix (one per output pixel) and its columns (one per (kh, kw, c) tap).
    [[nodiscard]] index_t rows() const { return n * oh * ow; }
    [[nodiscard]] index_t patch() const { return kh * kw * c; }
    // A 1x1, stride-1 window: the input itself is the column matrix (the pads are then always 0).
    [[nodiscard]] bool is_pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1; }
};

// Geometry of a window `kernel` with `strides`, `dilation` and `padding` over a (batch, H, W, C) input.
inline ConvGeometry conv_geometry(index_t batch, index_t height, index_t width, index_t channels, Size2 kernel,
                                  Size2 strides, Size2 dilation, Padding padding, const std::string& where) {
    const AxisGeometry ah = axis_geometry(height, kernel.h, strides.h, dilation.h, padding, where, "height");
    const AxisGeometry aw = axis_geometry(width, kernel.w, strides.w, dilation.w, padding, where, "width");
    ConvGeometry g;
    g.n = batch;
    g.h = height;
    g.w = width;
    g.c = channels;
    g.kh = kernel.h;
    g.kw = kernel.w;
    g.sh = strides.h;
    g.sw = strides.w;
    g.dh = dilation.h;
    g.dw = dilation.w;
    g.oh = ah.out;
    g.ow = aw.out;
    g.pad_top = ah.pad_before;
    g.pad_bottom = ah.pad_after;
    g.pad_left = aw.pad_before;
    g.pad_right = aw.pad_after;
    return g;
}

// Rejects a per-sample input shape that is not (H, W, C), with a fix suggestion for the usual mistakes.
inline void require_image_input(const Shape& s, const std::string& where) {
    if (s.rank() == 3) {
        require(s[0] >= 1 && s[1] >= 1 && s[2] >= 1, where, ": input dimensions must be >= 1, got ",
                s.to_keras_string());
        return;
    }
    if (s.rank() == 4)
        fail(where, ": expects per-sample input (height, width, channels), got ", s.to_keras_string(),
             " (rank 5 with the batch axis); the input shape must not include the batch size");
    fail(where, ": expects input of shape (None, height, width, channels), got ", s.to_keras_string(),
         "; add Reshape((height, width, channels)) before it, e.g. Reshape((28, 28, 1)) for flat 784-pixel images");
}

}  // namespace lumen::kernels
