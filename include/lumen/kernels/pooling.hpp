// 2-D max and average pooling on NHWC batches, forward and backward side by side.
//
// Windows follow conv_geometry.hpp (dilation 1). Padding cells never take part: a max ignores them (as if
// they were -inf), an average divides by the number of real cells in its window (TF's 'same' rule).
// Max backward: each output's gradient goes to the cell that won its window; on ties the FIRST maximum in
// row-major window order wins (TF's CPU kernel replaces the running max only when strictly greater).
// With overlapping windows a cell sums the gradients of every window it wins.
// Loops run over the C contiguous channels innermost (vectorised); images are split across threads, and
// every backward only touches its own image, so there are no races.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "lumen/core/shape.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/conv_geometry.hpp"

namespace lumen::kernels {

namespace detail {
inline constexpr index_t kPoolParallelGrain = 1 << 14;  // elements per call below which one thread is faster
inline int pool_threads(index_t work) { return work >= kPoolParallelGrain ? num_threads() : 1; }
}  // namespace detail

namespace detail {
// The common 2x2 / stride 2 window wholly inside the image: the four cells compared in registers in row-major
// order (strict >, so the first maximum wins), each output and its argmax written once.
template <class T>
inline void max_pool2x2_image(const ConvGeometry& g, const T* x, T* y, index_t* argmax, index_t n) {
    const index_t C = g.c;
    for (index_t oh = 0; oh < g.oh; ++oh)
        for (index_t ow = 0; ow < g.ow; ++ow) {
            const index_t o = ((n * g.oh + oh) * g.ow + ow) * C;
            const index_t b00 = ((n * g.h + 2 * oh) * g.w + 2 * ow) * C, b01 = b00 + C, b10 = b00 + g.w * C,
                          b11 = b10 + C;
            T* yo = y + o;
            index_t* ao = argmax + o;
#pragma omp simd
            for (index_t c = 0; c < C; ++c) {
                T m = x[b00 + c];
                index_t a = b00 + c;
                if (x[b01 + c] > m) m = x[b01 + c], a = b01 + c;
                if (x[b10 + c] > m) m = x[b10 + c], a = b10 + c;
                if (x[b11 + c] > m) m = x[b11 + c], a = b11 + c;
                yo[c] = m;
                ao[c] = a;
            }
        }
}
}  // namespace detail

// y (N, OH, OW, C) = max over each window of x (N, H, W, C); argmax[i] = index into x of the winner of y[i].
template <class T>
inline void max_pool2d_forward(const ConvGeometry& g, const T* x, T* y, index_t* argmax) {
    const index_t C = g.c;
    const bool two_by_two = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pad_top == 0 && g.pad_left == 0 &&
                            2 * g.oh <= g.h && 2 * g.ow <= g.w;
#pragma omp parallel for num_threads(detail::pool_threads(g.n * g.h * g.w * C)) schedule(static)
    for (index_t n = 0; n < g.n; ++n) {
        if (two_by_two) {
            detail::max_pool2x2_image(g, x, y, argmax, n);
            continue;
        }
        for (index_t oh = 0; oh < g.oh; ++oh)
            for (index_t ow = 0; ow < g.ow; ++ow) {
                const index_t o = ((n * g.oh + oh) * g.ow + ow) * C;
                T* yo = y + o;
                index_t* ao = argmax + o;
                std::fill(yo, yo + C, -std::numeric_limits<T>::infinity());
                std::fill(ao, ao + C, index_t(-1));
                const index_t ih0 = oh * g.sh - g.pad_top, iw0 = ow * g.sw - g.pad_left;
                for (index_t ih = std::max<index_t>(ih0, 0); ih < std::min(ih0 + g.kh, g.h); ++ih)
                    for (index_t iw = std::max<index_t>(iw0, 0); iw < std::min(iw0 + g.kw, g.w); ++iw) {
                        const index_t base = ((n * g.h + ih) * g.w + iw) * C;
                        const T* xp = x + base;
#pragma omp simd
                        for (index_t c = 0; c < C; ++c)
                            if (xp[c] > yo[c] || ao[c] < 0) {  // strict: the first maximum keeps the gradient
                                yo[c] = xp[c];
                                ao[c] = base + c;
                            }
                    }
            }
    }
}

// dx (N, H, W, C) += dy scattered to the winners recorded by max_pool2d_forward.
template <class T>
inline void max_pool2d_backward(const ConvGeometry& g, const T* dy, const index_t* argmax, T* dx) {
    const index_t per_image = g.oh * g.ow * g.c;
#pragma omp parallel for num_threads(detail::pool_threads(g.n * per_image)) schedule(static)
    for (index_t n = 0; n < g.n; ++n)
        for (index_t i = n * per_image; i < (n + 1) * per_image; ++i) dx[argmax[i]] += dy[i];
}

// dx (N, H, W, C) = dy scattered to the winners (zero elsewhere): max_pool2d_backward on an uninitialised dx.
// Each thread clears its own images just before scattering into them, so dx is touched once, in cache.
template <class T>
inline void max_pool2d_backward_set(const ConvGeometry& g, const T* dy, const index_t* argmax, T* dx) {
    const index_t per_image = g.oh * g.ow * g.c, image = g.h * g.w * g.c;
#pragma omp parallel for num_threads(detail::pool_threads(g.n * image)) schedule(static)
    for (index_t n = 0; n < g.n; ++n) {
        std::fill(dx + n * image, dx + (n + 1) * image, T(0));
        for (index_t i = n * per_image; i < (n + 1) * per_image; ++i) dx[argmax[i]] += dy[i];
    }
}

// The common 2x2, stride-2 pooling without padding (Keras' default MaxPooling2D()), where windows do not overlap
// and every cell belongs to at most one window. Instead of an 8-byte input index per output, the forward pass
// records which of the four cells won (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) in one byte, and
// backward writes each dx cell once, dy or 0, instead of clearing dx and scattering into it: for fashion_mnist's
// first pooling that is 0.7 MB of winners instead of 5.5 MB, and one pass over dx instead of two.
inline bool max_pool2x2_applies(const ConvGeometry& g) {
    return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pad_top == 0 && g.pad_left == 0 &&
           2 * g.oh <= g.h && 2 * g.ow <= g.w;
}

namespace detail {
// One 2x2 window, channels [c0, c1): y = the largest of the four cells, w = which one won (0 top-left .. 3
// bottom-right; strict >, so the first maximum in row-major order wins).
// With `relu_code` (a ReLU output pooled, Conv2D's fused pooling) a maximum <= 0 gets w = 4 instead: ReLU made the
// window 0, and no gradient flows back through it.
template <class T>
inline void max4_cells(const T* x00, const T* x01, const T* x10, const T* x11, T* y, std::uint8_t* w, index_t c0,
                       index_t c1, bool relu_code = false) {
#pragma omp simd
    for (index_t c = c0; c < c1; ++c) {
        T m = x00[c];
        std::uint8_t k = 0;
        if (x01[c] > m) m = x01[c], k = 1;
        if (x10[c] > m) m = x10[c], k = 2;
        if (x11[c] > m) m = x11[c], k = 3;
        y[c] = m;
        w[c] = relu_code && !(m > T(0)) ? std::uint8_t(4) : k;
    }
}

// Its adjoint: the four cells get d at the winner and 0 elsewhere.
template <class T>
inline void scatter4_cells(const T* d, const std::uint8_t* k, T* x00, T* x01, T* x10, T* x11, index_t c0,
                           index_t c1) {
#pragma omp simd
    for (index_t c = c0; c < c1; ++c) {
        const T v = d[c];  // read once, unconditionally: selects, not four masked loads
        const std::uint8_t kc = k[c];
        x00[c] = kc == 0 ? v : T(0);
        x01[c] = kc == 1 ? v : T(0);
        x10[c] = kc == 2 ? v : T(0);
        x11[c] = kc == 3 ? v : T(0);
    }
}

#if defined(__AVX512F__)
// The same for 16 float channels in one zmm register each. GCC's vectoriser chose its vector length for the
// loops above by the byte-sized winners (32 or 64 lanes) with -march=native on an Intel Xeon (cooperlake,
// generic tuning), so C = 16 never reached the vector loop and ran scalar, with a data-dependent branch per
// cell: the flowers model's first pooling (16 channels) took 29 ms forward and 38 ms backward at 1 thread.
inline void max4_run16(const float* x00, const float* x01, const float* x10, const float* x11, float* y,
                       std::uint8_t* w, bool relu_code) {
    __m512 m = _mm512_loadu_ps(x00);
    __m512i k = _mm512_setzero_si512();
    const float* cells[3] = {x01, x10, x11};
    for (int i = 0; i < 3; ++i) {
        const __m512 x = _mm512_loadu_ps(cells[i]);
        const __mmask16 greater = _mm512_cmp_ps_mask(x, m, _CMP_GT_OQ);
        m = _mm512_mask_mov_ps(m, greater, x);
        k = _mm512_mask_mov_epi32(k, greater, _mm512_set1_epi32(i + 1));
    }
    if (relu_code)  // not > 0 (NaN included, as in the loop above)
        k = _mm512_mask_mov_epi32(k, _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_NGT_UQ), _mm512_set1_epi32(4));
    _mm512_storeu_ps(y, m);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w), _mm512_cvtepi32_epi8(k));
}
inline void scatter4_run16(const float* d, const std::uint8_t* k, float* x00, float* x01, float* x10, float* x11) {
    const __m512 v = _mm512_loadu_ps(d);
    const __m512i winner = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k)));
    float* cells[4] = {x00, x01, x10, x11};
    for (int i = 0; i < 4; ++i)
        _mm512_storeu_ps(cells[i], _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(winner, _mm512_set1_epi32(i)), v));
}
#endif

// One window over all C channels: 16 at a time where the runs above exist, the plain loop for the rest.
template <class T>
inline void max4_window(const T* x00, const T* x01, const T* x10, const T* x11, T* y, std::uint8_t* w, index_t C,
                        bool relu_code = false) {
    index_t c = 0;
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>)
        for (; c + 16 <= C; c += 16) max4_run16(x00 + c, x01 + c, x10 + c, x11 + c, y + c, w + c, relu_code);
#endif
    max4_cells(x00, x01, x10, x11, y, w, c, C, relu_code);
}
template <class T>
inline void scatter4_window(const T* d, const std::uint8_t* k, T* x00, T* x01, T* x10, T* x11, index_t C) {
    index_t c = 0;
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>)
        for (; c + 16 <= C; c += 16) scatter4_run16(d + c, k + c, x00 + c, x01 + c, x10 + c, x11 + c);
#endif
    scatter4_cells(d, k, x00, x01, x10, x11, c, C);
}
}  // namespace detail

// y (N, OH, OW, C) = max of each 2x2 window of x; winner (like y) = the window cell that won, first maximum in
// row-major order on ties (strict >), as max_pool2d_forward.
template <class T>
inline void max_pool2x2_forward(const ConvGeometry& g, const T* x, T* y, std::uint8_t* winner) {
    const index_t C = g.c;
#pragma omp parallel for num_threads(detail::pool_threads(g.n * g.h * g.w * C)) schedule(static)
    for (index_t n = 0; n < g.n; ++n)
        for (index_t oh = 0; oh < g.oh; ++oh)
            for (index_t ow = 0; ow < g.ow; ++ow) {
                const index_t o = ((n * g.oh + oh) * g.ow + ow) * C;
                const T* x00 = x + ((n * g.h + 2 * oh) * g.w + 2 * ow) * C;
                detail::max4_window(x00, x00 + C, x00 + g.w * C, x00 + g.w * C + C, y + o, winner + o, C);
            }
}

// dx (N, H, W, C) = dy at each window's winner, 0 elsewhere (also the last row / column an odd size leaves out).
template <class T>
inline void max_pool2x2_backward(const ConvGeometry& g, const T* dy, const std::uint8_t* winner, T* dx) {
    const index_t C = g.c, row = g.w * C;
#pragma omp parallel for num_threads(detail::pool_threads(g.n * g.h * g.w * C)) schedule(static)
    for (index_t n = 0; n < g.n; ++n) {
        T* image = dx + n * g.h * row;
        for (index_t oh = 0; oh < g.oh; ++oh) {
            T* r0 = image + 2 * oh * row;
            T* r1 = r0 + row;
            for (index_t ow = 0; ow < g.ow; ++ow) {
                const index_t o = ((n * g.oh + oh) * g.ow + ow) * C;
                T *x00 = r0 + 2 * ow * C, *x10 = r1 + 2 * ow * C;
                detail::scatter4_window(dy + o, winner + o, x00, x00 + C, x10, x10 + C, C);
            }
            if (2 * g.ow < g.w) {  // the odd last column belongs to no window
                std::fill(r0 + 2 * g.ow * C, r0 + row, T(0));
                std::fill(r1 + 2 * g.ow * C, r1 + row, T(0));
            }
        }
        if (2 * g.oh < g.h) std::fill(image + 2 * g.oh * row, image + g.h * row, T(0));  // the odd last row
    }
}

// y (N, OH, OW, C) = mean over the real (non-padding) cells of each window of x (N, H, W, C).
template <class T>
inline void average_pool2d_forward(const ConvGeometry& g, const T* x, T* y) {
    const index_t C = g.c;
#pragma omp parallel for num_threads(detail::pool_threads(g.n * g.h * g.w * C)) schedule(static)
    for (index_t n = 0; n < g.n; ++n) {
        for (index_t oh = 0; oh < g.oh; ++oh)
            for (index_t ow = 0; ow < g.ow; ++ow) {
                T* yo = y + ((n * g.oh + oh) * g.ow + ow) * C;
                std::fill(yo, yo + C, T(0));
                const index_t ih0 = oh * g.sh - g.pad_top, iw0 = ow * g.sw - g.pad_left;
                const index_t h_lo = std::max<index_t>(ih0, 0), h_hi = std::min(ih0 + g.kh, g.h);
                const index_t w_lo = std::max<index_t>(iw0, 0), w_hi = std::min(iw0 + g.kw, g.w);
                for (index_t ih = h_lo; ih < h_hi; ++ih)
                    for (index_t iw = w_lo; iw < w_hi; ++iw) {
                        const T* xp = x + ((n * g.h + ih) * g.w + iw) * C;
#pragma omp simd
                        for (index_t c = 0; c < C; ++c) yo[c] += xp[c];
                    }
                const T inv = T(1) / static_cast<T>((h_hi - h_lo) * (w_hi - w_lo));
#pragma omp simd
                for (index_t c = 0; c < C; ++c) yo[c] *= inv;
            }
    }
}

// dx (N, H, W, C) += each window's dy / (its number of real cells), spread over those cells.
template <class T>
inline void average_pool2d_backward(const ConvGeometry& g, const T* dy, T* dx) {
    const index_t C = g.c;
#pragma omp parallel for num_threads(detail::pool_threads(g.n * g.h * g.w * C)) schedule(static)
    for (index_t n = 0; n < g.n; ++n) {
        for (index_t oh = 0; oh < g.oh; ++oh)
            for (index_t ow = 0; ow < g.ow; ++ow) {
                const T* go = dy + ((n * g.oh + oh) * g.ow + ow) * C;
                const index_t ih0 = oh * g.sh - g.pad_top, iw0 = ow * g.sw - g.pad_left;
                const index_t h_lo = std::max<index_t>(ih0, 0), h_hi = std::min(ih0 + g.kh, g.h);
                const index_t w_lo = std::max<index_t>(iw0, 0), w_hi = std::min(iw0 + g.kw, g.w);
                const T inv = T(1) / static_cast<T>((h_hi - h_lo) * (w_hi - w_lo));
                for (index_t ih = h_lo; ih < h_hi; ++ih)
                    for (index_t iw = w_lo; iw < w_hi; ++iw) {
                        T* dp = dx + ((n * g.h + ih) * g.w + iw) * C;
#pragma omp simd
                        for (index_t c = 0; c < C; ++c) dp[c] += go[c] * inv;
                    }
            }
    }
}

// y (N, C) = mean of x (N, H*W, C) over its H*W pixels.
template <class T>
inline void global_average_pool_forward(index_t N, index_t pixels, index_t C, const T* x, T* y) {
    const T inv = T(1) / static_cast<T>(pixels);
#pragma omp parallel for num_threads(detail::pool_threads(N * pixels * C)) schedule(static)
    for (index_t n = 0; n < N; ++n) {
        T* yn = y + n * C;
        std::fill(yn, yn + C, T(0));
        for (index_t p = 0; p < pixels; ++p) {
            const T* xp = x + (n * pixels + p) * C;
#pragma omp simd
            for (index_t c = 0; c < C; ++c) yn[c] += xp[c];
        }
#pragma omp simd
        for (index_t c = 0; c < C; ++c) yn[c] *= inv;
    }
}

// dx (N, H*W, C) = dy (N, C) / (H*W) at every pixel (written, not added).
template <class T>
inline void global_average_pool_backward(index_t N, index_t pixels, index_t C, const T* dy, T* dx) {
    const T inv = T(1) / static_cast<T>(pixels);
#pragma omp parallel for num_threads(detail::pool_threads(N * pixels * C)) schedule(static)
    for (index_t n = 0; n < N; ++n)
        for (index_t p = 0; p < pixels; ++p) {
            T* dp = dx + (n * pixels + p) * C;
            const T* g = dy + n * C;
#pragma omp simd
            for (index_t c = 0; c < C; ++c) dp[c] = g[c] * inv;
        }
}

// y (N, C) = max of x (N, H*W, C) over its pixels; argmax[n*C + c] = index into x of the first maximum.
template <class T>
inline void global_max_pool_forward(index_t N, index_t pixels, index_t C, const T* x, T* y, index_t* argmax) {
#pragma omp parallel for num_threads(detail::pool_threads(N * pixels * C)) schedule(static)
    for (index_t n = 0; n < N; ++n) {
        T* yn = y + n * C;
        index_t* an = argmax + n * C;
        for (index_t c = 0; c < C; ++c) {
            yn[c] = x[n * pixels * C + c];
            an[c] = n * pixels * C + c;
        }
        for (index_t p = 1; p < pixels; ++p) {
            const index_t base = (n * pixels + p) * C;
            const T* xp = x + base;
#pragma omp simd
            for (index_t c = 0; c < C; ++c)
                if (xp[c] > yn[c]) {
                    yn[c] = xp[c];
                    an[c] = base + c;
                }
        }
    }
}

}  // namespace lumen::kernels
