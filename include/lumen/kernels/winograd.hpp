// Winograd F(2x2, 3x3): a 3x3, stride-1 convolution with 16 multiplications per 2x2 output block and
// (input channel, filter) pair instead of 36 (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Conv2D uses it for 3x3 stride-1 layers with enough channels (docs/convolution.md, section 4).
//
// The output is cut into 2x2 tiles; tile (ty, tx) reads the 4x4 input patch at rows 2ty - pad_top .. +3 and
// columns 2tx - pad_left .. +3 (zeros outside the image). Per tile, input channel c and filter f:
//   forward   Y = A^T [ sum_c (G g G^T) ⊙ (B^T d B) ] A          d: 4x4 patch, g: 3x3 kernel, Y: 2x2 block
// The 16 points ξ of the 4x4 transformed domain are independent, so the sum over c is 16 matrix products:
//   M[ξ] (tiles, F) = V[ξ] (tiles, C) * U[ξ] (C, F),   V = B^T d B per tile,  U = G g G^T per (c, f)
// Backward is the transpose of each linear step (the same 16 products, transposed):
//   dM = A dZ A^T          (4x4 from each 2x2 block of dZ = activation'(dY))
//   dV[ξ] = dM[ξ] U[ξ]^T   then dX patch += B dV B^T   (patches of neighbouring tiles overlap: added)
//   dU[ξ] = V[ξ]^T dM[ξ]   then dW += G^T dU G
// with
//   B^T = | 1  0 -1  0 |     G = | 1    0    0   |     A^T = | 1  1  1  0 |
//         | 0  1  1  0 |         | 1/2  1/2  1/2 |           | 0  1 -1 -1 |
//         | 0 -1  1  0 |         | 1/2 -1/2  1/2 |
//         | 0  1  0 -1 |         | 0    0    1   |
// 2.25x fewer multiplications than im2col (less where the output is odd-sized and the last tiles are half
// used), for a few additions per value in the transforms. The entries are 0, ±1 and ±1/2, so the rounding
// error stays within a few ulps of the direct sum's (tests/test_conv2d.cpp compares the two paths).
//
// Layout: a chunk holds `count` consecutive tiles of one image; its transformed data is (count, 16, channels),
// so the product for point ξ reads rows of 16*channels floats starting at ξ*channels. Per tile, the transforms
// run over the channels (contiguous in NHWC) and vectorise across them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "lumen/core/shape.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/kernels/gemm.hpp"
#include "lumen/kernels/pooling.hpp"

namespace lumen::kernels::winograd {

// True for the shapes F(2x2, 3x3) computes: a 3x3 window, stride 1, no dilation.
inline bool supports(const ConvGeometry& g) {
    return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1;
}

// Where the Winograd path beat im2col + GEMM (docs/convolution.md, section 4): the 16 products are
// (tiles, C) x (C, F), too thin to pay for the transforms with few channels (the first convolution of an
// RGB or grey image stays on im2col).
inline bool wins(const ConvGeometry& g, index_t filters) { return supports(g) && g.c >= 16 && filters >= 16; }

// How the tiles of one image are cut into chunks: whole rows of tiles, about kChunkTiles tiles per chunk, so
// that a chunk's transformed input and products stay in L2 next to U.
struct Tiling {
    index_t th = 0, tw = 0;     // tiles per image down and across: ceil(OH / 2), ceil(OW / 2)
    index_t chunk = 0;          // tiles per chunk (a whole number of tile rows, the last chunk may be shorter)
    index_t chunks = 0;         // chunks per image
    [[nodiscard]] index_t per_image() const { return th * tw; }
};
inline constexpr index_t kChunkTiles = 96;
inline Tiling tiling(const ConvGeometry& g) {
    Tiling t;
    t.th = (g.oh + 1) / 2;
    t.tw = (g.ow + 1) / 2;
    t.chunk = std::max<index_t>(1, kChunkTiles / t.tw) * t.tw;
    t.chunk = std::min(t.chunk, t.per_image());
    t.chunks = (t.per_image() + t.chunk - 1) / t.chunk;
    return t;
}

// U (16, C, F) = G g G^T for every (c, f) of the HWIO kernel w (3, 3, C, F). With `transposed`, U is laid out
// (16, F, C) instead: the B operand of dV = dM U^T as a plain row-major product.
template <class T>
inline void transform_kernel(index_t C, index_t F, const T* w, T* U, bool transposed) {
    const index_t CF = C * F;
    for (index_t c = 0; c < C; ++c)
        for (index_t f = 0; f < F; ++f) {
            T g[3][3];
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) g[i][j] = w[(i * 3 + j) * CF + c * F + f];
            T r[4][3];  // G g: rows
            for (int j = 0; j < 3; ++j) {
                r[0][j] = g[0][j];
                r[1][j] = T(0.5) * (g[0][j] + g[1][j] + g[2][j]);
                r[2][j] = T(0.5) * (g[0][j] - g[1][j] + g[2][j]);
                r[3][j] = g[2][j];
            }
            const index_t at = transposed ? f * C + c : c * F + f;
            for (int i = 0; i < 4; ++i) {  // (G g) G^T: columns
                U[(i * 4 + 0) * CF + at] = r[i][0];
                U[(i * 4 + 1) * CF + at] = T(0.5) * (r[i][0] + r[i][1] + r[i][2]);
                U[(i * 4 + 2) * CF + at] = T(0.5) * (r[i][0] - r[i][1] + r[i][2]);
                U[(i * 4 + 3) * CF + at] = r[i][2];
            }
        }
}

// dW (3, 3, C, F) += G^T dU G for every (c, f); dU is (16, C, F).
template <class T>
inline void add_kernel_gradient(index_t C, index_t F, const T* dU, T* dw) {
    const index_t CF = C * F;
    for (index_t k = 0; k < CF; ++k) {
        T u[4][4];
        for (int x = 0; x < 16; ++x) u[x / 4][x % 4] = dU[x * CF + k];
        T r[3][4];  // G^T dU: rows
        for (int j = 0; j < 4; ++j) {
            r[0][j] = u[0][j] + T(0.5) * (u[1][j] + u[2][j]);
            r[1][j] = T(0.5) * (u[1][j] - u[2][j]);
            r[2][j] = T(0.5) * (u[1][j] + u[2][j]) + u[3][j];
        }
        for (int i = 0; i < 3; ++i) {  // (G^T dU) G: columns
            dw[(i * 3 + 0) * CF + k] += r[i][0] + T(0.5) * (r[i][1] + r[i][2]);
            dw[(i * 3 + 1) * CF + k] += T(0.5) * (r[i][1] - r[i][2]);
            dw[(i * 3 + 2) * CF + k] += T(0.5) * (r[i][1] + r[i][2]) + r[i][3];
        }
    }
}

namespace detail {
// The 16 pixel rows (C floats each) of tile `t`'s 4x4 input patch in image n; the padding cells get `outside`
// + cell * C * step (step 0: one shared row of zeros to read; step 1: a row of its own in a 16*C scratch to add to).
template <class P>
inline void patch_rows(const ConvGeometry& g, const Tiling& tl, P* image, index_t t, P* outside,
                       std::array<P*, 16>& p, index_t step) {
    const index_t y0 = 2 * (t / tl.tw) - g.pad_top, x0 = 2 * (t % tl.tw) - g.pad_left;
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            const index_t y = y0 + i, x = x0 + j;
            p[i * 4 + j] = (y >= 0 && y < g.h && x >= 0 && x < g.w) ? image + (y * g.w + x) * g.c
                                                                     : outside + (i * 4 + j) * g.c * step;
        }
}
// The 4 pixel rows (F floats each) of tile t's 2x2 output block; the cells past an odd edge get `outside`
// + cell * F * step (step 1: a cell of its own in a 4*F scratch; step 0: one shared row of zeros).
template <class P>
inline void block_rows(const ConvGeometry& g, const Tiling& tl, P* image, index_t F, index_t t, P* outside,
                       std::array<P*, 4>& p, index_t step) {
    const index_t y0 = 2 * (t / tl.tw), x0 = 2 * (t % tl.tw);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
            const index_t y = y0 + i, x = x0 + j;
            p[i * 2 + j] = (y < g.oh && x < g.ow) ? image + (y * g.ow + x) * F : outside + (i * 2 + j) * F * step;
        }
}
}  // namespace detail

// V (count, 16, C) = B^T d B for tiles t0 .. t0+count-1 of `image` (H, W, C); zeros: C zeros.
template <class T>
inline void transform_input(const ConvGeometry& g, const Tiling& tl, const T* image, index_t t0, index_t count,
                            const T* zeros, T* V) {
    const index_t C = g.c;
    std::array<const T*, 16> p{};
    for (index_t t = 0; t < count; ++t) {
        detail::patch_rows<const T>(g, tl, image, t0 + t, zeros, p, 0);
        T* v = V + t * 16 * C;
#pragma omp simd
        for (index_t c = 0; c < C; ++c) {
            T r[4][4];  // B^T d: rows
            for (int j = 0; j < 4; ++j) {
                const T d0 = p[j][c], d1 = p[4 + j][c], d2 = p[8 + j][c], d3 = p[12 + j][c];
                r[0][j] = d0 - d2;
                r[1][j] = d1 + d2;
                r[2][j] = d2 - d1;
                r[3][j] = d1 - d3;
            }
            for (int i = 0; i < 4; ++i) {  // (B^T d) B: columns
                v[(i * 4 + 0) * C + c] = r[i][0] - r[i][2];
                v[(i * 4 + 1) * C + c] = r[i][1] + r[i][2];
                v[(i * 4 + 2) * C + c] = r[i][2] - r[i][1];
                v[(i * 4 + 3) * C + c] = r[i][1] - r[i][3];
            }
        }
    }
}

namespace detail {
// One tile of transform_output; the switches are template arguments so that the loop over filters vectorises.
template <bool Relu, bool Keep, class T>
inline void output_tile(index_t F, const T* m, const T* bias, std::array<T*, 4> y, std::array<std::uint8_t*, 4> k) {
#pragma omp simd
    for (index_t f = 0; f < F; ++f) {
        T r[2][4];  // A^T M: rows
        for (int j = 0; j < 4; ++j) {
            const T m0 = m[j * F + f], m1 = m[(4 + j) * F + f], m2 = m[(8 + j) * F + f], m3 = m[(12 + j) * F + f];
            r[0][j] = m0 + m1 + m2;
            r[1][j] = m1 - m2 - m3;
        }
        for (int i = 0; i < 2; ++i) {  // (A^T M) A: columns
            T v0 = r[i][0] + r[i][1] + r[i][2] + bias[f];
            T v1 = r[i][1] - r[i][2] - r[i][3] + bias[f];
            if constexpr (Relu) {
                v0 = v0 > T(0) ? v0 : T(0);
                v1 = v1 > T(0) ? v1 : T(0);
            }
            y[i * 2][f] = v0;
            y[i * 2 + 1][f] = v1;
        }
    }
    // The mask in a second pass over the block, still in L1: inside the loop above, the byte stores kept GCC
    // from vectorising it (forward 2.2x slower).
    if constexpr (Keep)
        for (int q = 0; q < 4; ++q) {
            const T* v = y[q];
            std::uint8_t* p = k[q];
#pragma omp simd
            for (index_t f = 0; f < F; ++f) p[f] = v[f] > T(0) ? 1 : 0;
        }
}
// One tile of transform_output_gradient.
template <bool Masked, class T>
inline void output_gradient_tile(index_t F, std::array<const T*, 4> d, std::array<const std::uint8_t*, 4> k, T* m,
                                 T* db) {
#pragma omp simd
    for (index_t f = 0; f < F; ++f) {
        T z[2][2];
        for (int q = 0; q < 4; ++q) {
            if constexpr (Masked)
                z[q / 2][q % 2] = k[q][f] ? d[q][f] : T(0);
            else
                z[q / 2][q % 2] = d[q][f];
        }
        db[f] += (z[0][0] + z[0][1]) + (z[1][0] + z[1][1]);
        T r[4][2];  // A dZ: rows
        for (int j = 0; j < 2; ++j) {
            r[0][j] = z[0][j];
            r[1][j] = z[0][j] + z[1][j];
            r[2][j] = z[0][j] - z[1][j];
            r[3][j] = -z[1][j];
        }
        for (int i = 0; i < 4; ++i) {  // (A dZ) A^T: columns
            m[(i * 4 + 0) * F + f] = r[i][0];
            m[(i * 4 + 1) * F + f] = r[i][0] + r[i][1];
            m[(i * 4 + 2) * F + f] = r[i][0] - r[i][1];
            m[(i * 4 + 3) * F + f] = -r[i][1];
        }
    }
}
}  // namespace detail

// Y block = A^T M A + bias (ReLU when `relu`) for tiles t0 .. t0+count-1 of `out` (OH, OW, F), M (count, 16, F);
// bias: F values (zeros for none); positive (laid out like out, may be null) receives 1 where Y > 0, else 0
// (ReLU's derivative, for backward). scratch: 8*F floats per thread, the destination of cells past an odd
// edge (each cell its own, so the stores of a tile never alias).
template <class T>
inline void transform_output(const ConvGeometry& g, const Tiling& tl, index_t F, const T* M, index_t t0,
                             index_t count, const T* bias, bool relu, T* out, std::uint8_t* positive, T* scratch) {
    std::array<T*, 4> y{};
    std::array<std::uint8_t*, 4> k{};
    auto* byte_scratch = reinterpret_cast<std::uint8_t*>(scratch + 4 * F);  // 16*F bytes, 4*F needed
    const bool keep = positive != nullptr;
    for (index_t t = 0; t < count; ++t) {
        detail::block_rows(g, tl, out, F, t0 + t, scratch, y, 1);
        if (keep) detail::block_rows(g, tl, positive, F, t0 + t, byte_scratch, k, 1);
        const T* m = M + t * 16 * F;
        if (relu && keep) detail::output_tile<true, true>(F, m, bias, y, k);
        else if (relu) detail::output_tile<true, false>(F, m, bias, y, k);
        else if (keep) detail::output_tile<false, true>(F, m, bias, y, k);
        else detail::output_tile<false, false>(F, m, bias, y, k);
    }
}

// dM (count, 16, F) = A dZ A^T, dZ = dY masked by ReLU' (`positive`, forward's mask) when given, for tiles
// t0 .. t0+count-1 of dy (OH, OW, F); db (F) += the sum of dZ. zeros: F zeros (as floats: 4*F zero bytes).
template <class T>
inline void transform_output_gradient(const ConvGeometry& g, const Tiling& tl, index_t F, const T* dy,
                                      const std::uint8_t* positive, index_t t0, index_t count, const T* zeros, T* dM,
                                      T* db) {
    std::array<const T*, 4> d{};
    std::array<const std::uint8_t*, 4> k{};
    const auto* zero_bytes = reinterpret_cast<const std::uint8_t*>(zeros);
    for (index_t t = 0; t < count; ++t) {
        detail::block_rows(g, tl, dy, F, t0 + t, zeros, d, 0);
        T* m = dM + t * 16 * F;
        if (positive) {
            detail::block_rows(g, tl, positive, F, t0 + t, zero_bytes, k, 0);
            detail::output_gradient_tile<true>(F, d, k, m, db);
        } else {
            detail::output_gradient_tile<false>(F, d, k, m, db);
        }
    }
}

// Fused with a following MaxPooling2D(2x2) (Conv2D::forward_max_pool2x2): a 2x2 output tile is exactly one pooling
// window, so the tile's four values go straight into their maximum. pooled (PH, PW, F) of one image, PH = OH / 2,
// PW = OW / 2: tile (ty, tx) with ty < PH and tx < PW becomes pooled[ty, tx] = max of its act(A^T M A + bias), and
// code[ty, tx] = which cell won (0..3, the first maximum in row-major order, as MaxPooling2D), or 4 when ReLU
// made it 0, so that backward sends no gradient (ReLU'(0) = 0). Tiles of an odd last row or column belong to no
// window and are not written. scratch: 4*F floats.
template <class T>
inline void transform_output_pooled(const ConvGeometry& g, const Tiling& tl, index_t F, const T* M, index_t t0,
                                    index_t count, const T* bias, bool relu, T* pooled, std::uint8_t* code,
                                    T* scratch) {
    const index_t PW = g.ow / 2, PH = g.oh / 2;
    std::array<T*, 4> y{scratch, scratch + F, scratch + 2 * F, scratch + 3 * F};
    std::array<std::uint8_t*, 4> unused{};
    for (index_t t = 0; t < count; ++t) {
        const index_t ty = (t0 + t) / tl.tw, tx = (t0 + t) % tl.tw;
        if (ty >= PH || tx >= PW) continue;
        const T* m = M + t * 16 * F;
        if (relu) detail::output_tile<true, false>(F, m, bias, y, unused);
        else detail::output_tile<false, false>(F, m, bias, y, unused);
        T* p = pooled + (ty * PW + tx) * F;
        std::uint8_t* k = code + (ty * PW + tx) * F;
        kernels::detail::max4_window(y[0], y[1], y[2], y[3], p, k, F, relu);
    }
}

// Its backward: dZ of tile (ty, tx) is dP[ty, tx] at the cell code names and 0 elsewhere (all 0 for code 4 and for
// tiles outside every window); dM = A dZ A^T, db += the sum of dZ. scratch: 4*F floats; zeros: F zeros.
template <class T>
inline void transform_output_gradient_pooled(const ConvGeometry& g, const Tiling& tl, index_t F, const T* dpooled,
                                             const std::uint8_t* code, index_t t0, index_t count, const T* zeros,
                                             T* dM, T* db, T* scratch) {
    const index_t PW = g.ow / 2, PH = g.oh / 2;
    std::array<const T*, 4> d{};
    const std::array<const std::uint8_t*, 4> unused{};
    for (index_t t = 0; t < count; ++t) {
        const index_t ty = (t0 + t) / tl.tw, tx = (t0 + t) % tl.tw;
        if (ty < PH && tx < PW) {
            const index_t o = (ty * PW + tx) * F;
            kernels::detail::scatter4_window(dpooled + o, code + o, scratch, scratch + F, scratch + 2 * F,
                                             scratch + 3 * F, F);
            d = {scratch, scratch + F, scratch + 2 * F, scratch + 3 * F};
        } else {
            d = {zeros, zeros, zeros, zeros};
        }
        detail::output_gradient_tile<false>(F, d, unused, dM + t * 16 * F, db);
    }
}

// dX patch += B dV B^T for tiles t0 .. t0+count-1 of dx_image (H, W, C), dV (count, 16, C). Tiles are added in
// order, so neighbouring patches overlap safely within one thread. scratch: 16*C floats for padding cells.
template <class T>
inline void add_input_gradient(const ConvGeometry& g, const Tiling& tl, const T* dV, index_t t0, index_t count,
                               T* dx_image, T* scratch) {
    const index_t C = g.c;
    std::array<T*, 16> p{};
    for (index_t t = 0; t < count; ++t) {
        detail::patch_rows<T>(g, tl, dx_image, t0 + t, scratch, p, 1);
        const T* v = dV + t * 16 * C;
#pragma omp simd
        for (index_t c = 0; c < C; ++c) {
            T r[4][4];  // B dV: rows
            for (int j = 0; j < 4; ++j) {
                const T v0 = v[j * C + c], v1 = v[(4 + j) * C + c], v2 = v[(8 + j) * C + c], v3 = v[(12 + j) * C + c];
                r[0][j] = v0;
                r[1][j] = v1 - v2 + v3;
                r[2][j] = v1 + v2 - v0;
                r[3][j] = -v3;
            }
            for (int i = 0; i < 4; ++i) {  // (B dV) B^T: columns, added into the patch
                p[i * 4 + 0][c] += r[i][0];
                p[i * 4 + 1][c] += r[i][1] - r[i][2] + r[i][3];
                p[i * 4 + 2][c] += r[i][1] + r[i][2] - r[i][0];
                p[i * 4 + 3][c] += -r[i][3];
            }
        }
    }
}

// Floats of workspace forward() and backward() need for `threads` threads.
inline index_t forward_workspace(const ConvGeometry& g, index_t F, int threads) {
    const Tiling tl = tiling(g);
    return 16 * g.c * F + std::max(g.c, F) + threads * (tl.chunk * 16 * (g.c + F) + 8 * F);
}
inline index_t backward_workspace(const ConvGeometry& g, index_t F, int threads) {
    const Tiling tl = tiling(g);
    return 16 * g.c * F + std::max(g.c, F) +
           threads * (tl.chunk * 16 * (2 * g.c + F) + 16 * g.c * F + F + 16 * g.c + 4 * F);
}

// y (N, OH, OW, F) = act(conv(x, w) + b), act = ReLU when `relu` else none; positive (like y, may be null)
// receives 1 where y > 0. w: HWIO (3, 3, C, F); bias may be null. ws: forward_workspace() floats.
// With pool_code: fused with MaxPooling2D(2x2), y is the pooled (N, OH/2, OW/2, F) and pool_code (like it) the
// winners (transform_output_pooled); positive is not used.
template <class T>
inline void forward(const ConvGeometry& g, index_t F, const T* x, const T* w, const T* bias, bool relu, T* y,
                    std::uint8_t* positive, T* ws, int threads, std::uint8_t* pool_code = nullptr) {
    const Tiling tl = tiling(g);
    const index_t C = g.c, CF = C * F;
    T* U = ws;
    T* zeros = U + 16 * CF;
    std::fill(zeros, zeros + std::max(C, F), T(0));
    transform_kernel(C, F, w, U, false);
    T* per_thread = zeros + std::max(C, F);
    const index_t slot = tl.chunk * 16 * (C + F) + 8 * F;
    const index_t work = g.n * tl.chunks, in_image = g.h * g.w * C;
    const index_t out_image = pool_code ? (g.oh / 2) * (g.ow / 2) * F : g.oh * g.ow * F;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t item = 0; item < work; ++item) {
        T* V = per_thread + thread_index() * slot;
        T* M = V + tl.chunk * 16 * C;
        T* scratch = M + tl.chunk * 16 * F;
        const index_t n = item / tl.chunks, t0 = (item % tl.chunks) * tl.chunk;
        const index_t count = std::min(tl.chunk, tl.per_image() - t0);
        transform_input(g, tl, x + n * in_image, t0, count, zeros, V);
        for (int k = 0; k < 16; ++k)  // M[ξ] (count, F) = V[ξ] (count, C) * U[ξ] (C, F)
            gemm_nn(count, F, C, V + k * C, 16 * C, U + k * CF, F, M + k * F, 16 * F, false);
        if (pool_code)
            transform_output_pooled(g, tl, F, M, t0, count, bias ? bias : zeros, relu, y + n * out_image,
                                    pool_code + n * out_image, scratch);
        else
            transform_output(g, tl, F, M, t0, count, bias ? bias : zeros, relu, y + n * out_image,
                             positive ? positive + n * out_image : nullptr, scratch);
    }
}

// Backward of forward(): dw (3, 3, C, F) += dW, db (F, may be null) += db, and when dx is not null,
// dx (N, H, W, C) = dX (overwritten). positive: forward's ReLU mask, null without activation. Threads split images;
// each has private dU and db partials, summed in a fixed order. ws: backward_workspace() floats.
// With pool_code (the fused forward's): dy is the gradient of the pooled output, and positive is not used.
template <class T>
inline void backward(const ConvGeometry& g, index_t F, const T* x, const T* w, const std::uint8_t* positive,
                     const T* dy, T* dx, T* dw, T* db, T* ws, int threads, const std::uint8_t* pool_code = nullptr) {
    const Tiling tl = tiling(g);
    const index_t C = g.c, CF = C * F;
    T* Ut = ws;  // (16, F, C)
    T* zeros = Ut + 16 * CF;
    std::fill(zeros, zeros + std::max(C, F), T(0));
    if (dx) transform_kernel(C, F, w, Ut, true);
    T* per_thread = zeros + std::max(C, F);
    const index_t slot = tl.chunk * 16 * (2 * C + F) + 16 * CF + F + 16 * C + 4 * F;
    for (int t = 0; t < threads; ++t) {
        T* partial = per_thread + t * slot + tl.chunk * 16 * (2 * C + F);
        std::fill(partial, partial + 16 * CF + F, T(0));
    }
    const index_t in_image = g.h * g.w * C;
    const index_t out_image = pool_code ? (g.oh / 2) * (g.ow / 2) * F : g.oh * g.ow * F;
#pragma omp parallel num_threads(threads)
    {
        T* V = per_thread + thread_index() * slot;
        T* dM = V + tl.chunk * 16 * C;
        T* dV = dM + tl.chunk * 16 * F;
        T* dU = dV + tl.chunk * 16 * C;
        T* dbp = dU + 16 * CF;
        T* scratch = dbp + F;           // 16*C: dx cells outside the image
        T* dz_block = scratch + 16 * C;  // 4*F: one tile's dZ when fused with pooling
#pragma omp for schedule(static)
        for (index_t n = 0; n < g.n; ++n) {
            T* dxn = dx ? dx + n * in_image : nullptr;
            if (dxn) std::fill(dxn, dxn + in_image, T(0));
            for (index_t t0 = 0; t0 < tl.per_image(); t0 += tl.chunk) {
                const index_t count = std::min(tl.chunk, tl.per_image() - t0);
                if (pool_code) {
                    transform_output_gradient_pooled(g, tl, F, dy + n * out_image, pool_code + n * out_image, t0,
                                                     count, zeros, dM, dbp, dz_block);
                } else {
                    const std::uint8_t* mask = positive ? positive + n * out_image : nullptr;
                    transform_output_gradient(g, tl, F, dy + n * out_image, mask, t0, count, zeros, dM, dbp);
                }
                transform_input(g, tl, x + n * in_image, t0, count, zeros, V);
                for (int k = 0; k < 16; ++k)  // dU[ξ] (C, F) += V[ξ]^T (C, count) * dM[ξ] (count, F)
                    gemm_tn(C, F, count, V + k * C, 16 * C, dM + k * F, 16 * F, dU + k * CF, F, true);
                if (!dxn) continue;
                for (int k = 0; k < 16; ++k)  // dV[ξ] (count, C) = dM[ξ] (count, F) * U[ξ]^T (F, C)
                    gemm_nn(count, C, F, dM + k * F, 16 * F, Ut + k * CF, C, dV + k * C, 16 * C, false);
                add_input_gradient(g, tl, dV, t0, count, dxn, scratch);
            }
        }
    }
    // Fixed order: the same sums for the same thread count. Thread 0's partial collects the others'.
    T* total = per_thread + tl.chunk * 16 * (2 * C + F);
    for (int t = 1; t < threads; ++t) {
        const T* partial = per_thread + t * slot + tl.chunk * 16 * (2 * C + F);
        for (index_t i = 0; i < 16 * CF + F; ++i) total[i] += partial[i];
    }
    add_kernel_gradient(C, F, total, dw);
    if (db)
        for (index_t f = 0; f < F; ++f) db[f] += total[16 * CF + f];
}

}  // namespace lumen::kernels::winograd
