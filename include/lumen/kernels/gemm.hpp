// Matrix products on row-major buffers: Eigen maps (no copies), or for the thin float shapes of convolution
// where it measurably wins, lumen's AVX-512 micro-kernel (gemm_avx512.hpp).
//
// Every matrix is row-major with a leading dimension (the distance between rows), so a tile of a larger
// matrix can be passed without copying. `accumulate` chooses C += ... over C = ....
//   gemm_nn: C(M, N) (+)= A(M, K)   * B(K, N)       convolution forward, dX of a 1x1 convolution
//   gemm_tn: C(M, N) (+)= A(K, M)^T * B(K, N)       dW = cols^T * dZ
//   gemm_nt: C(M, N) (+)= A(M, K)   * B(N, K)^T     dcols = dZ * W^T
// Eigen's product is blocked and vectorised (AVX2/AVX-512 with -march=native). Called inside a lumen
// OpenMP region it runs single-threaded (Eigen does not nest its own threads in a parallel region), which is
// what the convolution wants: lumen parallelises over tiles, each thread runs its own products. The packed
// kernel is always single-threaded.
// Which shapes take the packed kernel was decided by bench/bench_gemm.cpp (bench/README.md, "Packed GEMM").
// Defining LUMEN_NO_PACKED_GEMM keeps every product on Eigen (used to measure one against the other).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "lumen/core/shape.hpp"
#include "lumen/kernels/gemm_avx512.hpp"

namespace lumen::kernels {

namespace detail {
template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMatMap = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using MatMap = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T>
inline ConstMatMap<T> cmap(const T* p, index_t rows, index_t cols, index_t ld) {
    return ConstMatMap<T>(p, rows, cols, Eigen::OuterStride<>(ld));
}
template <class T>
inline MatMap<T> map(T* p, index_t rows, index_t cols, index_t ld) {
    return MatMap<T>(p, rows, cols, Eigen::OuterStride<>(ld));
}
}  // namespace detail

// The plain Eigen products, for every scalar type and shape.
namespace eigen {
template <class T>
inline void gemm_nn(index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                    index_t ldc, bool accumulate) {
    auto c = detail::map(C, M, N, ldc);
    if (accumulate)
        c.noalias() += detail::cmap(A, M, K, lda) * detail::cmap(B, K, N, ldb);
    else
        c.noalias() = detail::cmap(A, M, K, lda) * detail::cmap(B, K, N, ldb);
}

template <class T>
inline void gemm_tn(index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                    index_t ldc, bool accumulate) {
    auto c = detail::map(C, M, N, ldc);
    if (accumulate)
        c.noalias() += detail::cmap(A, K, M, lda).transpose() * detail::cmap(B, K, N, ldb);
    else
        c.noalias() = detail::cmap(A, K, M, lda).transpose() * detail::cmap(B, K, N, ldb);
}

template <class T>
inline void gemm_nt(index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                    index_t ldc, bool accumulate) {
    auto c = detail::map(C, M, N, ldc);
    if (accumulate)
        c.noalias() += detail::cmap(A, M, K, lda) * detail::cmap(B, N, K, ldb).transpose();
    else
        c.noalias() = detail::cmap(A, M, K, lda) * detail::cmap(B, N, K, ldb).transpose();
}
}  // namespace eigen

// True when this build has the packed kernel (float, AVX-512, not opted out).
inline constexpr bool packed_gemm_available =
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
    true;
#else
    false;
#endif

// Where the packed kernel beat Eigen on one thread in bench_gemm's sweep (1.1-6x; a tie for 24 columns with
// K >= 576; bench/README.md, "Packed GEMM"); sizes in each product's own argument order, tile-sized M (256..4096 rows).
// It loses where one 16-wide vector is mostly masked lanes (1..8 columns against a long inner dimension) and was not
// measured beyond 128 columns, so those stay on Eigen. nn (forward): N = filters, K = patch size.
inline bool packed_gemm_wins_nn(index_t M, index_t N, index_t K) {
    return M > 0 && K > 0 && (N >= 16 ? N <= 128 : N >= 3 && K <= 32);
}
// tn (dW): M = patch size, N = filters, K = rows of the tile.
inline bool packed_gemm_wins_tn(index_t M, index_t N, index_t K) { return M > 0 && K > 0 && N >= 8 && N <= 128; }
// nt (dcols): N = patch size, K = filters (one packed panel of B^T holds 128). It must not depend on M beyond
// M > 0: GemmNtFixedB decides once for all M.
inline bool packed_gemm_wins_nt(index_t M, index_t N, index_t K) {
    return M > 0 && N > 0 && K > 0 && (K <= 64 || (K <= 128 && N >= 8));
}

template <class T>
inline void gemm_nn(index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                    index_t ldc, bool accumulate) {
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
    if constexpr (std::is_same_v<T, float>)
        if (packed_gemm_wins_nn(M, N, K)) return avx512::gemm_nn(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
#endif
    eigen::gemm_nn(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

// Convolution forward's product and output pass in one: C(M, N) = act(A(M, K) * B(K, N) + bias), act = ReLU
// when `relu`, else none; bias (N) may be null; positive (M, N, leading dimension ldp), if not null, receives
// 1 where C > 0 and 0 elsewhere (ReLU's derivative, kept for backward). The packed kernel applies all of it to
// each register block before storing it, so the output is written once and never reread; Eigen's path does the
// same in a second pass.
template <class T>
inline void gemm_nn_bias_act(index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                             index_t ldc, const T* bias, bool relu, std::uint8_t* positive, index_t ldp) {
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
    if constexpr (std::is_same_v<T, float>)
        if (packed_gemm_wins_nn(M, N, K))
            return avx512::gemm_nn(M, N, K, A, lda, B, ldb, C, ldc, false,
                                   avx512::Epilogue{bias, relu, positive, ldp});
#endif
    eigen::gemm_nn(M, N, K, A, lda, B, ldb, C, ldc, false);
    for (index_t r = 0; r < M; ++r) {
        T* c = C + r * ldc;
        if (bias) {
#pragma omp simd
            for (index_t j = 0; j < N; ++j) c[j] += bias[j];
        }
        if (relu) {
#pragma omp simd
            for (index_t j = 0; j < N; ++j) c[j] = c[j] > T(0) ? c[j] : T(0);
        }
        if (positive) {
            std::uint8_t* p = positive + r * ldp;
#pragma omp simd
            for (index_t j = 0; j < N; ++j) p[j] = c[j] > T(0) ? 1 : 0;
        }
    }
}

template <class T>
inline void gemm_tn(index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                    index_t ldc, bool accumulate) {
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
    if constexpr (std::is_same_v<T, float>)
        if (packed_gemm_wins_tn(M, N, K)) return avx512::gemm_tn(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
#endif
    eigen::gemm_tn(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

template <class T>
inline void gemm_nt(index_t M, index_t N, index_t K, const T* A, index_t lda, const T* B, index_t ldb, T* C,
                    index_t ldc, bool accumulate) {
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
    if constexpr (std::is_same_v<T, float>)
        if (packed_gemm_wins_nt(M, N, K)) return avx512::gemm_nt(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
#endif
    eigen::gemm_nt(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

// C(M, N) (+)= A(M, K) * B(N, K)^T for many A with one B: Conv2D's backward computes dcols = dZ W^T for every
// tile with the same W. Where the packed kernel takes the shape, B^T is packed once here instead of in each
// product (for fashion_mnist's second convolution, one tile per image, that packing was 4% of a training step);
// the results are those of gemm_nt.
template <class T>
class GemmNtFixedB {
public:
    GemmNtFixedB(index_t N, index_t K, const T* B, index_t ldb) : N_(N), K_(K), B_(B), ldb_(ldb) {
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
        if constexpr (std::is_same_v<T, float>)
            if (packed_gemm_wins_nt(1, N, K)) {
                packed_.resize(static_cast<std::size_t>(N * K));
                avx512::pack_bt(N, K, B, ldb, packed_.data());
            }
#endif
    }
    void operator()(index_t M, const T* A, index_t lda, T* C, index_t ldc, bool accumulate) const {
#if defined(__AVX512F__) && !defined(LUMEN_NO_PACKED_GEMM)
        if constexpr (std::is_same_v<T, float>)
            if (!packed_.empty() && M > 0)
                return avx512::gemm_nt_prepacked(M, N_, K_, A, lda, packed_.data(), C, ldc, accumulate);
#endif
        gemm_nt(M, N_, K_, A, lda, B_, ldb_, C, ldc, accumulate);
    }

private:
    index_t N_, K_;
    const T* B_;
    index_t ldb_;
    std::vector<T> packed_;
};

}  // namespace lumen::kernels
