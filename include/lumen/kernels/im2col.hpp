// im2col / col2im on NHWC batches: convolution turned into one matrix product.
//
// Row r of the column matrix is output pixel r = (n*OH + oh)*OW + ow; its K = KH*KW*C columns are the input
// values under the window, ordered (kh, kw, c) with c fastest — exactly the row order of the HWIO kernel
// viewed as a (KH*KW*C, F) matrix, so  Y(rows, F) = cols(rows, K) * W(K, F)  is the convolution.
// Padding cells are zeros. col2im is the adjoint: it ADDS each column value back onto the input cell it came
// from, which is how dL/dX = col2im(dL/dcols) sums the contributions of overlapping windows.
//
// Both work on a range of rows [r0, r0 + rows) so a caller can tile the matrix and keep a tile in cache.
// Inner loops copy/add runs of C contiguous channels (KW*C when dilation is 1), which the compiler vectorises.
#pragma once

#include <algorithm>

#include "lumen/core/shape.hpp"
#include "lumen/kernels/conv_geometry.hpp"

namespace lumen::kernels {

namespace detail {
// Window columns [lo, hi) that land inside [0, width) for a window starting at input column iw0, step dw.
inline void valid_window(index_t iw0, index_t k, index_t d, index_t width, index_t& lo, index_t& hi) {
    lo = iw0 >= 0 ? 0 : (-iw0 + d - 1) / d;
    hi = width - iw0 <= 0 ? 0 : std::min<index_t>(k, (width - iw0 + d - 1) / d);
    if (hi < lo) hi = lo;
}
}  // namespace detail

namespace detail {
// dst[0, len) = src[0, len). A plain loop, not memcpy: the runs here are short (KW*C = 9 floats for an RGB
// 3x3 window), where a library call per run costs more than the copy; the loop is inlined and vectorised.
template <class T>
inline void copy_run(const T* src, T* dst, index_t len) {
#pragma omp simd
    for (index_t e = 0; e < len; ++e) dst[e] = src[e];
}
template <class T>
inline void zero_run(T* dst, index_t len) {
#pragma omp simd
    for (index_t e = 0; e < len; ++e) dst[e] = T(0);
}
}  // namespace detail

namespace detail {
template <index_t Len, class T>
inline void copy_fixed(const T* src, T* dst) {
    for (index_t e = 0; e < Len; ++e) dst[e] = src[e];
}

// One row of the column matrix, K values, for the window at input (ih0, iw0) of image n: the general case,
// with padding cells as zeros and any dilation.
template <class T>
inline void copy_window(const ConvGeometry& g, const T* x, index_t n, index_t ih0, index_t iw0, T* dst) {
    const index_t C = g.c, run = g.kw * C;
    index_t jlo, jhi;
    valid_window(iw0, g.kw, g.dw, g.w, jlo, jhi);
    for (index_t i = 0; i < g.kh; ++i, dst += run) {
        const index_t ih = ih0 + i * g.dh;
        if (ih < 0 || ih >= g.h) {
            zero_run(dst, run);
            continue;
        }
        const T* src = x + (n * g.h + ih) * g.w * C;  // start of input row ih
        zero_run(dst, jlo * C);
        if (g.dw == 1) {
            copy_run(src + (iw0 + jlo) * C, dst + jlo * C, (jhi - jlo) * C);
        } else {
            for (index_t j = jlo; j < jhi; ++j) copy_run(src + (iw0 + j * g.dw) * C, dst + j * C, C);
        }
        zero_run(dst + jhi * C, run - jhi * C);
    }
}
}  // namespace detail

// cols(rows, K) <- the windows of output pixels [r0, r0 + rows) of the batch x (N, H, W, C).
template <class T>
inline void im2col(const ConvGeometry& g, const T* x, index_t r0, index_t rows, T* cols) {
    const index_t C = g.c, K = g.patch(), run = g.kw * C;
    const index_t pixels = g.oh * g.ow;
    index_t n = r0 / pixels, oh = (r0 % pixels) / g.ow, ow = r0 % g.ow;  // advanced incrementally below
    const index_t row_step = g.dh * g.w * C;
    for (index_t r = r0; r < r0 + rows; ++r) {
        T* dst = cols + (r - r0) * K;
        const index_t ih0 = oh * g.sh - g.pad_top, iw0 = ow * g.sw - g.pad_left;
        if (g.dw == 1 && ih0 >= 0 && ih0 + (g.kh - 1) * g.dh < g.h && iw0 >= 0 && iw0 + g.kw <= g.w) {
            // The whole window inside the image (every window of a 'valid' layer): KH runs of KW*C floats, no
            // bounds. A grey 3x3 window is nine 3-float runs, where the general path's bookkeeping cost several
            // times the copy (fashion_mnist's first convolution spent half its forward time here).
            const T* src = x + ((n * g.h + ih0) * g.w + iw0) * C;
            if (run == 3)
                for (index_t i = 0; i < g.kh; ++i) detail::copy_fixed<3>(src + i * row_step, dst + i * 3);
            else
                for (index_t i = 0; i < g.kh; ++i) detail::copy_run(src + i * row_step, dst + i * run, run);
        } else {
            detail::copy_window(g, x, n, ih0, iw0, dst);
        }
        if (++ow == g.ow) {
            ow = 0;
            if (++oh == g.oh) oh = 0, ++n;
        }
    }
}

namespace detail {
// col2im_add with the window row length KW*C known at compile time when Run > 0 (Run == KW*C), so adding back
// a window row that lies wholly inside the image is a fixed vector operation instead of a loop with a runtime
// trip count: RGB 3x3 windows add 9-float runs. (The same for im2col's copies measured no gain.)
template <index_t Run, class T>
inline void col2im_rows(const ConvGeometry& g, const T* dcols, index_t r0, index_t rows, T* dx) {
    const index_t C = g.c, K = g.patch(), run = Run > 0 ? Run : g.kw * C;
    const index_t pixels = g.oh * g.ow;
    for (index_t r = r0; r < r0 + rows; ++r) {
        const index_t n = r / pixels, oh = (r % pixels) / g.ow, ow = r % g.ow;
        const T* src = dcols + (r - r0) * K;
        const index_t ih0 = oh * g.sh - g.pad_top, iw0 = ow * g.sw - g.pad_left;
        index_t jlo, jhi;
        valid_window(iw0, g.kw, g.dw, g.w, jlo, jhi);
        const bool whole = g.dw == 1 && jlo == 0 && jhi == g.kw;  // every window row lies inside the image
        for (index_t i = 0; i < g.kh; ++i, src += run) {
            const index_t ih = ih0 + i * g.dh;
            if (ih < 0 || ih >= g.h) continue;
            T* dst = dx + (n * g.h + ih) * g.w * C;  // start of input row ih
            if (whole) {
                T* d = dst + iw0 * C;
#pragma omp simd
                for (index_t e = 0; e < run; ++e) d[e] += src[e];
            } else if (g.dw == 1) {
                T* d = dst + (iw0 + jlo) * C;
                const T* s = src + jlo * C;
                const index_t len = (jhi - jlo) * C;
#pragma omp simd
                for (index_t e = 0; e < len; ++e) d[e] += s[e];
            } else {
                for (index_t j = jlo; j < jhi; ++j) {
                    T* d = dst + (iw0 + j * g.dw) * C;
                    const T* s = src + j * C;
#pragma omp simd
                    for (index_t ch = 0; ch < C; ++ch) d[ch] += s[ch];
                }
            }
        }
    }
}
}  // namespace detail

// dx (N, H, W, C) += the adjoint of im2col applied to dcols(rows, K) for output pixels [r0, r0 + rows).
// Rows of different images touch different images, so callers may split work by image without races.
template <class T>
inline void col2im_add(const ConvGeometry& g, const T* dcols, index_t r0, index_t rows, T* dx) {
    if (g.kw * g.c == 9) return detail::col2im_rows<9>(g, dcols, r0, rows, dx);  // 3x3 RGB (first layers)
    detail::col2im_rows<0>(g, dcols, r0, rows, dx);
}

}  // namespace lumen::kernels
