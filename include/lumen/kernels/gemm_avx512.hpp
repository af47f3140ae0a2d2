// A register-blocked AVX-512 GEMM for the thin float products of convolution, where Eigen is weak.
//
// Convolution multiplies long, thin matrices: N (= filters) is 16..64 columns, so Eigen's panels, sized for
// large matrices, spend much of their time packing and on edges. Here one micro-tile of C, MR rows by up to
// 64 columns (NV zmm vectors of 16, the last masked for any N), lives in registers for a whole sweep of the
// inner dimension P:
//   for p:  b = B(p, 0..NV*16)  (NV loads);  for each row i: acc[i][:] += broadcast(A(i, p)) * b
// A is read in place with two strides, A(i, p) = a[i * rs + p * cs], which covers both convolution operands
// without packing: the im2col tile (rows of K, cs = 1, gemm_nn) and its transpose (cs = ld, rs = 1, gemm_tn,
// where the MR broadcasts of one p are adjacent floats). B rows must be contiguous; B^T (gemm_nt) is packed
// into column panels of at most 64 x kPackDepth floats on the stack first.
// Only compiled with AVX-512 (e.g. -march=native on AVX-512 hardware); gemm.hpp decides per shape whether
// to call it (bench/README.md, "Packed GEMM"). tests/test_gemm.cpp checks it against a plain loop.
#pragma once

#include "lumen/core/shape.hpp"

#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace lumen::kernels::avx512 {

// Rows of C per micro-tile for NV vectors of columns: MR * NV accumulators plus NV B vectors fit the 32 zmm
// registers, and at least 6 independent accumulators hide the FMA latency.
template <int NV>
inline constexpr int kTileRows = NV == 1   ? 14
                                 : NV == 2 ? 12
                                 : NV == 3 ? 8
                                           : 6;

// Depth of one packed panel of B^T (gemm_nt): 64 columns x 128 = 32 KiB of stack, about L1.
inline constexpr index_t kPackDepth = 128;

// C(MR, NV*16 masked) (+)= A(MR, P) * B(P, NV*16 masked).  A(i, p) = a[i * rs + p * cs]; B row p at b + p * ldb.
// What happens to a finished register block before (and as) it is stored: C = relu(C + bias) when asked, and
// one byte per value into `positive` (row stride ldp) when given: 1 where the stored value is > 0, ReLU's
// derivative, which is all backward needs (a quarter of a float copy). Column 0 of bias/positive is column 0
// of the C passed in. Convolution forward uses it so bias, ReLU and the mask cost no extra pass over the output.
struct Epilogue {
    const float* bias = nullptr;
    bool relu = false;
    std::uint8_t* positive = nullptr;
    index_t ldp = 0;
    [[nodiscard]] Epilogue shifted(index_t rows, index_t cols) const {
        return {bias ? bias + cols : nullptr, relu, positive ? positive + rows * ldp + cols : nullptr, ldp};
    }
};

// The inner dimension may come in `segments` pieces of P steps each: piece s reads A at a + s * ss (rows still
// rs apart) and the next P rows of B, as if they were one product of depth segments * P. Conv2D's implicit GEMM
// uses it for the rows of the kernel window (kernels/implicit_conv.hpp); every other product has one segment.
template <int MR, int NV>
inline void micro_tile(index_t P, const float* a, index_t rs, index_t cs, const float* b, index_t ldb, float* c,
                       index_t ldc, __mmask16 last, bool accumulate, const Epilogue& e, index_t segments = 1,
                       index_t ss = 0) {
    __m512 acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            const __mmask16 m = v == NV - 1 ? last : __mmask16(0xFFFF);
            acc[i][v] = accumulate ? _mm512_maskz_loadu_ps(m, c + i * ldc + 16 * v) : _mm512_setzero_ps();
        }
    for (index_t s = 0; s < segments; ++s) {
        const float* as = a + s * ss;
        for (index_t p = 0; p < P; ++p) {
            __m512 bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v)
                bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
            for (int i = 0; i < MR; ++i) {
                const __m512 ai = _mm512_set1_ps(as[i * rs]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
            }
            as += cs;
            b += ldb;
        }
    }
    if (e.bias) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            const __m512 bias = _mm512_maskz_loadu_ps(v == NV - 1 ? last : __mmask16(0xFFFF), e.bias + 16 * v);
#pragma GCC unroll 16
            for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_add_ps(acc[i][v], bias);
        }
    }
    if (e.relu) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_max_ps(acc[i][v], _mm512_setzero_ps());
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            const __mmask16 m = v == NV - 1 ? last : __mmask16(0xFFFF);
            _mm512_mask_storeu_ps(c + i * ldc + 16 * v, m, acc[i][v]);
            if (e.positive) {  // 16 bytes of 0/1 (vpmovdb: AVX-512F, masked for the last vector)
                const __mmask16 gt = _mm512_cmp_ps_mask(acc[i][v], _mm512_setzero_ps(), _CMP_GT_OQ);
                _mm512_mask_cvtepi32_storeu_epi8(e.positive + i * e.ldp + 16 * v, m, _mm512_maskz_set1_epi32(gt, 1));
            }
        }
}

template <int NV>
using MicroTile = void (*)(index_t, const float*, index_t, index_t, const float*, index_t, float*, index_t, __mmask16,
                           bool, const Epilogue&, index_t, index_t);

// The micro-tiles for 1 .. kTileRows<NV> rows, so the last rows of C use the same code with fewer rows.
template <int NV, std::size_t... R>
constexpr std::array<MicroTile<NV>, sizeof...(R)> micro_tiles(std::index_sequence<R...>) {
    return {&micro_tile<static_cast<int>(R) + 1, NV>...};
}

// C(M, nc) (+)= A(M, P) * B(P, nc) for one column panel, 16 * (NV - 1) < nc <= 16 * NV.
template <int NV>
inline void column_panel(index_t M, index_t nc, index_t P, const float* a, index_t rs, index_t cs, const float* b,
                         index_t ldb, float* c, index_t ldc, bool accumulate, const Epilogue& e, index_t segments,
                         index_t ss) {
    constexpr int MR = kTileRows<NV>;
    static constexpr auto tiles = micro_tiles<NV>(std::make_index_sequence<MR>());
    const index_t rest = nc - 16 * (NV - 1);
    const auto last = static_cast<__mmask16>(rest >= 16 ? 0xFFFF : (1u << rest) - 1);
    index_t i = 0;
    for (; i + MR <= M; i += MR)
        micro_tile<MR, NV>(P, a + i * rs, rs, cs, b, ldb, c + i * ldc, ldc, last, accumulate, e.shifted(i, 0),
                           segments, ss);
    if (i < M)
        tiles[static_cast<std::size_t>(M - i - 1)](P, a + i * rs, rs, cs, b, ldb, c + i * ldc, ldc, last, accumulate,
                                                   e.shifted(i, 0), segments, ss);
}

// C(M, N) (+)= A(M, P) * B(P, N); A(i, p) = a[i * rs + p * cs]; B(p, j) = b[p * ldb + j]. With segments > 1 the
// inner dimension is segments * P, piece s of A starting at a + s * ss (see micro_tile).
inline void gemm_strided(index_t M, index_t N, index_t P, const float* a, index_t rs, index_t cs, const float* b,
                         index_t ldb, float* c, index_t ldc, bool accumulate, const Epilogue& e = {},
                         index_t segments = 1, index_t ss = 0) {
    for (index_t j = 0; j < N; j += 64) {
        const index_t nc = std::min<index_t>(64, N - j);
        const Epilogue ej = e.shifted(0, j);
        switch ((nc + 15) / 16) {
            case 1: column_panel<1>(M, nc, P, a, rs, cs, b + j, ldb, c + j, ldc, accumulate, ej, segments, ss); break;
            case 2: column_panel<2>(M, nc, P, a, rs, cs, b + j, ldb, c + j, ldc, accumulate, ej, segments, ss); break;
            case 3: column_panel<3>(M, nc, P, a, rs, cs, b + j, ldb, c + j, ldc, accumulate, ej, segments, ss); break;
            default: column_panel<4>(M, nc, P, a, rs, cs, b + j, ldb, c + j, ldc, accumulate, ej, segments, ss); break;
        }
    }
}

// C(M, N) (+)= A(M, K) * B(K, N), row-major with leading dimensions, then the epilogue e on each register block.
inline void gemm_nn(index_t M, index_t N, index_t K, const float* A, index_t lda, const float* B, index_t ldb, float* C,
                    index_t ldc, bool accumulate, const Epilogue& e = {}) {
    gemm_strided(M, N, K, A, lda, 1, B, ldb, C, ldc, accumulate, e);
}

// C(M, N) (+)= A(K, M)^T * B(K, N).
inline void gemm_tn(index_t M, index_t N, index_t K, const float* A, index_t lda, const float* B, index_t ldb, float* C,
                    index_t ldc, bool accumulate) {
    gemm_strided(M, N, K, A, 1, lda, B, ldb, C, ldc, accumulate);
}

// One block of B^T for gemm_nt: packed(p, jj) = B(j + jj, p0 + p) for nc columns and pc steps of depth.
inline void pack_bt_block(const float* B, index_t ldb, index_t j, index_t nc, index_t p0, index_t pc, float* packed) {
    for (index_t jj = 0; jj < nc; ++jj) {
        const float* src = B + (j + jj) * ldb + p0;
        for (index_t p = 0; p < pc; ++p) packed[p * nc + jj] = src[p];
    }
}

// C(M, N) (+)= A(M, K) * B(N, K)^T: B^T is packed panel by panel (64 columns x kPackDepth) on the stack.
inline void gemm_nt(index_t M, index_t N, index_t K, const float* A, index_t lda, const float* B, index_t ldb, float* C,
                    index_t ldc, bool accumulate) {
    alignas(64) std::array<float, 64 * kPackDepth> packed;
    for (index_t j = 0; j < N; j += 64) {
        const index_t nc = std::min<index_t>(64, N - j);
        for (index_t p0 = 0; p0 < K; p0 += kPackDepth) {
            const index_t pc = std::min(kPackDepth, K - p0);
            pack_bt_block(B, ldb, j, nc, p0, pc, packed.data());
            gemm_strided(M, nc, pc, A + p0, lda, 1, packed.data(), nc, C + j, ldc, accumulate || p0 > 0);
        }
    }
}

// The same product with all of B^T packed beforehand by pack_bt (N * K floats, the blocks of gemm_nt one after
// another), for many products with one B: Conv2D's backward multiplies every tile by the same W^T.
inline void pack_bt(index_t N, index_t K, const float* B, index_t ldb, float* packed) {
    for (index_t j = 0; j < N; j += 64)
        for (index_t p0 = 0; p0 < K; p0 += kPackDepth) {
            const index_t nc = std::min<index_t>(64, N - j), pc = std::min(kPackDepth, K - p0);
            pack_bt_block(B, ldb, j, nc, p0, pc, packed);
            packed += nc * pc;
        }
}
inline void gemm_nt_prepacked(index_t M, index_t N, index_t K, const float* A, index_t lda, const float* packed,
                              float* C, index_t ldc, bool accumulate) {
    for (index_t j = 0; j < N; j += 64)
        for (index_t p0 = 0; p0 < K; p0 += kPackDepth) {
            const index_t nc = std::min<index_t>(64, N - j), pc = std::min(kPackDepth, K - p0);
            gemm_strided(M, nc, pc, A + p0, lda, 1, packed, nc, C + j, ldc, accumulate || p0 > 0);
            packed += nc * pc;
        }
}

}  // namespace lumen::kernels::avx512

#endif
