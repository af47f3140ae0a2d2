// Convolution without im2col for images with few channels (a model's first layer: RGB or grey): "implicit GEMM".
//
// im2col copies KH*KW*C floats per output pixel into a column matrix (27 for a 3x3 RGB window: 9x the image,
// 112 MB for the flowers batch) only for the product to read them back. Along one output row no copy is needed:
// for kernel row ki, the KW*C floats of output pixel ow's window are consecutive in input row oh*sh + ki, and
// start sw*C floats after those of pixel ow - 1. So for one output row and one kernel row the im2col tile IS the
// input, read as a matrix whose rows are sw*C floats apart and overlap. The packed kernel reads A with any row
// stride, and sums the KH kernel rows in its registers as segments of one inner dimension (gemm_avx512.hpp):
//   forward   Y[n, oh] (OW, F) = act( sum_ki X_ki (OW, KW*C) * W_ki (KW*C, F) + b )
//             X_ki(ow, q) = xp[n, oh*sh + ki, ow*sw*C + q],  W_ki = rows ki*KW*C .. of the HWIO kernel (K, F)
//   backward  dZ = act'(dY);  db += sum dZ;  dW_ki (KW*C, F) += X_ki^T dZ[n, oh];  dX = col2im(dZ W^T)
// Padding: a window that reaches outside the image ('same') would read past the row, so the input is first copied
// into a zero-bordered image xp (N, Hp, Wp, C): a copy of the input, not of 9x it. 'valid' reads x in place.
// Dilation other than 1 would break the runs of KW*C floats: those layers stay on im2col.
// Conv2D takes this path by itself only where the packed AVX-512 kernel is compiled, for float: Eigen's product
// cannot read overlapping rows, so elsewhere the products below are plain loops (detail::product), right but slow,
// there so that the path can be forced and checked in double against central differences (tests/test_conv2d.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "lumen/core/shape.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/kernels/gemm.hpp"
#include "lumen/kernels/im2col.hpp"
#include "lumen/kernels/pooling.hpp"

namespace lumen::kernels::implicit_conv {

// True when this build has the fast products (the packed kernel) for float.
inline constexpr bool fast = packed_gemm_available;

// The shapes the path computes: any window, stride and padding, dilation 1.
inline bool supports(const ConvGeometry& g) { return g.dh == 1 && g.dw == 1; }

// Where it replaced im2col (docs/convolution.md, section 5): few input channels, so that im2col's copy
// outweighs the product, and the filter counts the packed kernel was measured on. Layers with 16 or more
// channels have Winograd (3x3) or a copy that is small next to their product.
inline bool wins(const ConvGeometry& g, index_t filters) {
    return fast && supports(g) && g.c < 16 && filters >= 16 && filters <= 128;
}

// The image the view reads: h x w pixels of C floats. `copy`: whether it is a zero-bordered copy of x ('same'
// padding, or windows reaching past an edge) rather than x itself.
struct Padded {
    index_t h = 0, w = 0;
    bool copy = false;
};
inline Padded padded(const ConvGeometry& g) {
    Padded p{(g.oh - 1) * g.sh + g.kh, (g.ow - 1) * g.sw + g.kw, false};
    p.copy = g.pad_top > 0 || g.pad_left > 0 || p.h > g.h || p.w > g.w;
    if (!p.copy) p.h = g.h, p.w = g.w;
    return p;
}

namespace detail {
// C(M, N) = sum over s < segments of A_s(M, P) * B_s(P, N), then the epilogue (C += bias, ReLU, positive = C > 0),
// or with `accumulate` (and no epilogue) C += that sum. A_s(i, p) = a[s * ss + i * rs + p * cs]; B_s is rows
// s*P .. s*P + P-1 of b (leading dimension ldb); C and positive have leading dimension ldc.
template <class T>
inline void product(index_t M, index_t N, index_t P, index_t segments, const T* a, index_t rs, index_t cs, index_t ss,
                    const T* b, index_t ldb, T* c, index_t ldc, bool accumulate, const T* bias = nullptr,
                    bool relu = false, std::uint8_t* positive = nullptr) {
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
    if constexpr (std::is_same_v<T, float>)
        return avx512::gemm_strided(M, N, P, a, rs, cs, b, ldb, c, ldc, accumulate,
                                    avx512::Epilogue{bias, relu, positive, ldc}, segments, ss);
#endif
    for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) {
            T sum = accumulate ? c[i * ldc + j] : T(0);
            for (index_t s = 0; s < segments; ++s)
                for (index_t p = 0; p < P; ++p) sum += a[s * ss + i * rs + p * cs] * b[(s * P + p) * ldb + j];
            if (bias) sum += bias[j];
            if (relu) sum = sum > T(0) ? sum : T(0);
            c[i * ldc + j] = sum;
            if (positive) positive[i * ldc + j] = sum > T(0) ? 1 : 0;
        }
}
}  // namespace detail

// xp (N, p.h, p.w, C) = x (N, H, W, C) moved down by pad_top and right by pad_left, zeros around it.
template <class T>
inline void pad_input(const ConvGeometry& g, const Padded& p, const T* x, T* xp, int threads) {
    const index_t C = g.c, in_row = g.w * C, row = p.w * C;
    const index_t left = g.pad_left * C, copied = std::min(in_row, row - left);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t r = 0; r < g.n * p.h; ++r) {
        const index_t n = r / p.h, y = r % p.h - g.pad_top;
        T* dst = xp + r * row;
        if (y < 0 || y >= g.h) {
            std::fill(dst, dst + row, T(0));
            continue;
        }
        std::fill(dst, dst + left, T(0));
        std::copy(x + (n * g.h + y) * in_row, x + (n * g.h + y) * in_row + copied, dst + left);
        std::fill(dst + left + copied, dst + row, T(0));
    }
}

// y (N, OH, OW, F) = act(conv(x, w) + bias), act = ReLU when `relu` else none; positive (like y, may be null)
// receives 1 where y > 0 (ReLU's derivative, for backward). xp: the image padded() describes; w: HWIO
// (KH, KW, C, F); bias may be null. Threads split output rows.
template <class T>
inline void forward(const ConvGeometry& g, const Padded& p, index_t F, const T* xp, const T* w, const T* bias,
                    bool relu, T* y, std::uint8_t* positive, int threads) {
    const index_t C = g.c, row = p.w * C, image = p.h * row;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t r = 0; r < g.n * g.oh; ++r) {
        const index_t n = r / g.oh, oh = r % g.oh;
        const T* a = xp + n * image + oh * g.sh * row;  // X_0 (OW, KW*C): row ow at a + ow * sw * C
        // Y[n, oh] = act(sum over the KH kernel rows (segments, `row` values apart) of X_ki * W_ki + bias)
        detail::product(g.ow, F, g.kw * C, g.kh, a, g.sw * C, 1, row, w, F, y + r * g.ow * F, F, false, bias, relu,
                        positive ? positive + r * g.ow * F : nullptr);
    }
}

// Fused with a following MaxPooling2D(2x2) (Conv2D::forward_max_pool2x2): each pair of output rows 2*ph, 2*ph+1 is
// computed into a per-thread buffer and pooled at once, so the conv output never reaches memory.
// pooled (N, OH/2, OW/2, F); code (like it): which cell of the window won (0..3, the first maximum in row-major
// order, as MaxPooling2D), or 4 when ReLU made the maximum 0 (no gradient then, ReLU'(0) = 0). An odd last output
// row or column belongs to no window and is not computed. ws: pooled_forward_workspace() floats.
inline index_t pooled_forward_workspace(const ConvGeometry& g, index_t F, int threads) {
    return threads * 2 * g.ow * F;
}
template <class T>
inline void forward_max_pool2x2(const ConvGeometry& g, const Padded& p, index_t F, const T* xp, const T* w,
                                const T* bias, bool relu, T* pooled, std::uint8_t* code, T* ws, int threads) {
    const index_t C = g.c, row = p.w * C, image = p.h * row, PH = g.oh / 2, PW = g.ow / 2, ow = 2 * PW;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t r = 0; r < g.n * PH; ++r) {
        const index_t n = r / PH, ph = r % PH;
        T* y = ws + thread_index() * 2 * g.ow * F;  // output rows 2*ph and 2*ph+1, OW*F values each
        for (index_t i = 0; i < 2; ++i) {
            const T* a = xp + n * image + (2 * ph + i) * g.sh * row;
            detail::product(ow, F, g.kw * C, g.kh, a, g.sw * C, 1, row, w, F, y + i * g.ow * F, F, false, bias, relu);
        }
        T* out = pooled + r * PW * F;
        std::uint8_t* k = code + r * PW * F;
        for (index_t pw = 0; pw < PW; ++pw) {
            const T* c0 = y + 2 * pw * F;  // the window's top-left cell; the others F, OW*F and OW*F + F further
            kernels::detail::max4_window(c0, c0 + F, c0 + g.ow * F, c0 + g.ow * F + F, out + pw * F, k + pw * F, F,
                                         relu);
        }
    }
}

// Floats of workspace backward() needs for `threads` threads.
inline index_t backward_workspace(const ConvGeometry& g, index_t F, bool want_dx, int threads) {
    return threads * (2 * g.ow * F + g.patch() * F + F + (want_dx ? g.ow * g.patch() : 0));
}

namespace detail {
// The body of both backward passes: for output rows 0 .. rows-1 of every image, in order, dz_row(n, oh, buffer)
// gives row oh of dZ (OW, F) (in the buffer of 2*OW*F values or elsewhere); db += its sums, dW_ki += X_ki^T dZ, and when dx is not null
// dX = col2im(dZ W^T). Rows from `rows` on have dZ = 0 and are skipped. Threads split images (col2im of one image
// never races with another's); each has private dW and db partials, summed in a fixed order.
template <class T, class DzRow>
inline void backward_rows(const ConvGeometry& g, const Padded& p, index_t F, const T* xp, const T* w, T* dx, T* dw,
                          T* db, T* ws, int threads, index_t rows, DzRow&& dz_row) {
    const index_t C = g.c, K = g.patch(), KWC = g.kw * C, row = p.w * C, image = p.h * row;
    const index_t slot = 2 * g.ow * F + K * F + F + (dx ? g.ow * K : 0);
    for (int t = 0; t < threads; ++t)
        std::fill(ws + t * slot + 2 * g.ow * F, ws + t * slot + 2 * g.ow * F + K * F + F, T(0));
    std::optional<GemmNtFixedB<T>> times_wt;  // (rows, F) -> (rows, K): multiplies by W^T
    if (dx) times_wt.emplace(K, F, w, F);
#pragma omp parallel num_threads(threads)
    {
        T* buffer = ws + thread_index() * slot;  // rows of dZ (2, OW, F)
        T* dwp = buffer + 2 * g.ow * F;          // dW partial (K, F)
        T* dbp = dwp + K * F;                    // db partial (F)
        T* dcols = dbp + F;                      // dZ W^T for one output row (OW, K)
#pragma omp for schedule(static)
        for (index_t n = 0; n < g.n; ++n) {
            if (dx) std::fill(dx + n * g.h * g.w * C, dx + (n + 1) * g.h * g.w * C, T(0));
            for (index_t oh = 0; oh < rows; ++oh) {
                const T* d = dz_row(n, oh, buffer);
                for (index_t ow = 0; ow < g.ow; ++ow) {
#pragma omp simd
                    for (index_t f = 0; f < F; ++f) dbp[f] += d[ow * F + f];
                }
                const T* a = xp + n * image + oh * g.sh * row;
                for (index_t ki = 0; ki < g.kh; ++ki)  // dW_ki (KW*C, F) += X_ki^T (KW*C, OW) * dZ (OW, F)
                    product(KWC, F, g.ow, 1, a + ki * row, 1, g.sw * C, 0, d, F, dwp + ki * KWC * F, F, true);
                if (!dx) continue;
                (*times_wt)(g.ow, d, F, dcols, K, false);  // dcols = dZ W^T, then back into the image
                col2im_add(g, dcols, (n * g.oh + oh) * g.ow, g.ow, dx);
            }
        }
    }
    for (int t = 0; t < threads; ++t) {  // fixed order: the same sums for the same thread count
        const T* dwp = ws + t * slot + 2 * g.ow * F;
        for (index_t i = 0; i < K * F; ++i) dw[i] += dwp[i];
        if (db)
            for (index_t f = 0; f < F; ++f) db[f] += dwp[K * F + f];
    }
}
}  // namespace detail

// Backward of forward_max_pool2x2: as backward() below, with dy the gradient of the pooled output: dZ of each
// window is dP at the cell `code` names, 0 elsewhere (and in an odd last row or column).
template <class T>
inline void backward_max_pool2x2(const ConvGeometry& g, const Padded& p, index_t F, const T* xp, const T* w,
                                 const std::uint8_t* code, const T* dpooled, T* dx, T* dw, T* db, T* ws,
                                 int threads) {
    detail::backward_rows(g, p, F, xp, w, dx, dw, db, ws, threads, 2 * (g.oh / 2), [&](index_t n, index_t oh, T* dz) {
        // Rows are asked for in order: at an even row, both rows of dZ (2, OW, F) under pooled row oh / 2 go into
        // the buffer; the odd row after it is the buffer's second half.
        if (oh % 2) return static_cast<const T*>(dz + g.ow * F);
        const index_t PW = g.ow / 2, r = n * (g.oh / 2) + oh / 2;
        const T* d = dpooled + r * PW * F;
        const std::uint8_t* k = code + r * PW * F;
        for (index_t pw = 0; pw < PW; ++pw) {
            T* c0 = dz + 2 * pw * F;  // the window's top-left cell; the others F, OW*F and OW*F + F further
            kernels::detail::scatter4_window(d + pw * F, k + pw * F, c0, c0 + F, c0 + g.ow * F, c0 + g.ow * F + F, F);
        }
        if (g.ow % 2) {  // the odd last column belongs to no window
            std::fill(dz + 2 * PW * F, dz + g.ow * F, T(0));
            std::fill(dz + g.ow * F + 2 * PW * F, dz + 2 * g.ow * F, T(0));
        }
        return static_cast<const T*>(dz);
    });
}

// Backward of forward(): dw (KH, KW, C, F) += dW, db (F, may be null) += db, and when dx is not null,
// dx (N, H, W, C) = dX (overwritten). positive: forward's ReLU mask, null without activation. Threads split images
// (col2im of one image never races with another's); each has private dW and db partials, summed in a fixed order.
template <class T>
inline void backward(const ConvGeometry& g, const Padded& p, index_t F, const T* xp, const T* w,
                     const std::uint8_t* positive, const T* dy, T* dx, T* dw, T* db, T* ws, int threads) {
    detail::backward_rows(g, p, F, xp, w, dx, dw, db, ws, threads, g.oh, [&](index_t n, index_t oh, T* dz) {
        const index_t count = g.ow * F, r = n * g.oh + oh;
        const T* d = dy + r * count;
        if (!positive) return d;
        const std::uint8_t* k = positive + r * count;  // dZ = (Y > 0) * dY
#pragma omp simd
        for (index_t i = 0; i < count; ++i) dz[i] = k[i] ? d[i] : T(0);
        return static_cast<const T*>(dz);
    });
}

}  // namespace lumen::kernels::implicit_conv
