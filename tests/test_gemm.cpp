// The GEMM wrappers (gemm.hpp) and lumen's packed AVX-512 kernel (gemm_avx512.hpp) against a plain triple loop
// in double, on random shapes: odd M (micro-tile tails), inner dimensions with tails and beyond one packed
// panel, N = 1 .. 100 (masked columns, several column panels), leading dimensions wider than the matrices,
// C = and C +=. The padding columns must stay untouched.
// Built twice: test_gemm without -march=native (the Eigen path only) and test_gemm_native with it (on an
// AVX-512 machine the packed kernel is checked directly and through the dispatch).
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/kernels/gemm.hpp"

using namespace lumen;

namespace {

enum class Op { nn, tn, nt };
const char* op_name(Op op) { return op == Op::nn ? "nn" : op == Op::tn ? "tn" : "nt"; }

struct Problem {
    Op op;
    index_t M, N, K, pad;
    std::vector<float> A, B, C0;  // A stored (M, K) for nn/nt and (K, M) for tn; B (K, N) for nn/tn and (N, K) for nt
    [[nodiscard]] index_t lda() const { return (op == Op::tn ? M : K) + pad; }
    [[nodiscard]] index_t ldb() const { return (op == Op::nt ? K : N) + pad; }
    [[nodiscard]] index_t ldc() const { return N + pad; }
    [[nodiscard]] float a(index_t i, index_t p) const {
        return A[static_cast<std::size_t>(op == Op::tn ? p * lda() + i : i * lda() + p)];
    }
    [[nodiscard]] float b(index_t p, index_t j) const {
        return B[static_cast<std::size_t>(op == Op::nt ? j * ldb() + p : p * ldb() + j)];
    }
};

std::vector<float> random_vector(index_t n, Generator& g) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = static_cast<float>(g.uniform(-1, 1));
    return v;
}

Problem make_problem(Op op, index_t M, index_t N, index_t K, Generator& g) {
    Problem p{op, M, N, K, 3, {}, {}, {}};
    p.A = random_vector((op == Op::tn ? K : M) * p.lda() + 1, g);
    p.B = random_vector((op == Op::nt ? N : K) * p.ldb() + 1, g);
    p.C0 = random_vector(M * p.ldc(), g);
    return p;
}

// The plain loop: C (+)= A * B in double. Returns the worst error relative to 1 + sum |a*b| of its element, and
// fails outright if a padding column changed.
template <class Gemm>
double worst_error(const Problem& p, bool accumulate, Gemm gemm) {
    std::vector<float> C = p.C0;
    gemm(p, C.data(), accumulate);
    double worst = 0;
    for (index_t i = 0; i < p.M; ++i) {
        for (index_t j = 0; j < p.N; ++j) {
            double s = accumulate ? p.C0[static_cast<std::size_t>(i * p.ldc() + j)] : 0.0, scale = 1;
            for (index_t k = 0; k < p.K; ++k) {
                s += double(p.a(i, k)) * double(p.b(k, j));
                scale += std::abs(double(p.a(i, k)) * double(p.b(k, j)));
            }
            worst = std::max(worst, std::abs(C[static_cast<std::size_t>(i * p.ldc() + j)] - s) / scale);
        }
        for (index_t j = p.N; j < p.ldc(); ++j)
            if (C[static_cast<std::size_t>(i * p.ldc() + j)] != p.C0[static_cast<std::size_t>(i * p.ldc() + j)])
                return 1e30;
    }
    return worst;
}

void dispatch(const Problem& p, float* C, bool accumulate) {
    if (p.op == Op::nn)
        kernels::gemm_nn(p.M, p.N, p.K, p.A.data(), p.lda(), p.B.data(), p.ldb(), C, p.ldc(), accumulate);
    if (p.op == Op::tn)
        kernels::gemm_tn(p.M, p.N, p.K, p.A.data(), p.lda(), p.B.data(), p.ldb(), C, p.ldc(), accumulate);
    if (p.op == Op::nt)
        kernels::gemm_nt(p.M, p.N, p.K, p.A.data(), p.lda(), p.B.data(), p.ldb(), C, p.ldc(), accumulate);
}

// gemm_nt through GemmNtFixedB (B^T packed once where the packed kernel applies); other ops as dispatched.
void fixed_b(const Problem& p, float* C, bool accumulate) {
    if (p.op != Op::nt) return dispatch(p, C, accumulate);
    const kernels::GemmNtFixedB<float> times_bt(p.N, p.K, p.B.data(), p.ldb());
    times_bt(p.M, p.A.data(), p.lda(), C, p.ldc(), accumulate);
}

#if defined(__AVX512F__)
void packed(const Problem& p, float* C, bool accumulate) {
    namespace k = kernels::avx512;
    if (p.op == Op::nn) k::gemm_nn(p.M, p.N, p.K, p.A.data(), p.lda(), p.B.data(), p.ldb(), C, p.ldc(), accumulate);
    if (p.op == Op::tn) k::gemm_tn(p.M, p.N, p.K, p.A.data(), p.lda(), p.B.data(), p.ldb(), C, p.ldc(), accumulate);
    if (p.op == Op::nt) k::gemm_nt(p.M, p.N, p.K, p.A.data(), p.lda(), p.B.data(), p.ldb(), C, p.ldc(), accumulate);
}
#endif

// The sizes the micro-kernel cares about: M around its tile heights (6, 8, 12, 14) and their tails, inner
// dimensions with tails and longer than one packed panel (128), N with masked and multiple column panels.
constexpr index_t kRows[] = {1, 5, 6, 7, 13, 14, 15, 29, 61};
constexpr index_t kInner[] = {1, 3, 27, 130, 300};
constexpr index_t kCols[] = {1, 3, 16, 17, 32, 48, 64, 100};

template <class Gemm>
void check_all_shapes(Gemm gemm) {
    Generator g(11);
    for (Op op : {Op::nn, Op::tn, Op::nt})
        for (index_t M : kRows)
            for (index_t K : kInner)
                for (index_t N : kCols) {
                    const Problem p = make_problem(op, M, N, K, g);
                    for (bool accumulate : {false, true}) {
                        INFO(op_name(op) << " M=" << M << " N=" << N << " K=" << K << " accumulate=" << accumulate);
                        const double err = worst_error(p, accumulate, gemm);
                        if (err > 1e-6) CHECK(err <= 1e-6);  // one CHECK per failure keeps the report short
                    }
                }
}

}  // namespace

TEST_CASE("gemm_nn/tn/nt (as dispatched) match a plain triple loop on random shapes", "[gemm]") {
    if (!kernels::packed_gemm_available)
        WARN(
            "this build has no AVX-512 (or LUMEN_NO_PACKED_GEMM): checking the Eigen path only; test_gemm_native "
            "checks the packed kernel on an AVX-512 machine");
    check_all_shapes(dispatch);
}

TEST_CASE("gemm_nt with B packed once (GemmNtFixedB) matches a plain loop and gives gemm_nt's exact results",
          "[gemm]") {
    check_all_shapes(fixed_b);
    Generator g(12);
    for (auto [M, N, K] : {std::array<index_t, 3>{121, 288, 64}, {61, 100, 128}, {7, 17, 3}}) {  // packed shapes
        const Problem p = make_problem(Op::nt, M, N, K, g);
        std::vector<float> a = p.C0, b = p.C0;
        dispatch(p, a.data(), true);
        fixed_b(p, b.data(), true);
        CHECK(a == b);
    }
#if defined(__AVX512F__)
    // pack_bt + gemm_nt_prepacked against gemm_nt directly, also deeper than one packed panel (K > 128), which
    // the dispatch never sends there today.
    for (auto [M, N, K] : {std::array<index_t, 3>{61, 100, 300}, {13, 65, 129}, {121, 288, 64}}) {
        const Problem p = make_problem(Op::nt, M, N, K, g);
        std::vector<float> packed_b(static_cast<std::size_t>(N * K));
        kernels::avx512::pack_bt(N, K, p.B.data(), p.ldb(), packed_b.data());
        for (bool accumulate : {false, true}) {
            std::vector<float> a = p.C0, b = p.C0;
            kernels::avx512::gemm_nt(M, N, K, p.A.data(), p.lda(), p.B.data(), p.ldb(), a.data(), p.ldc(), accumulate);
            kernels::avx512::gemm_nt_prepacked(M, N, K, p.A.data(), p.lda(), packed_b.data(), b.data(), p.ldc(),
                                               accumulate);
            INFO("M=" << M << " N=" << N << " K=" << K << " accumulate=" << accumulate);
            CHECK(a == b);
        }
    }
#endif
}

TEST_CASE("the packed AVX-512 kernel matches a plain triple loop on random shapes", "[gemm]") {
#if defined(__AVX512F__)
    check_all_shapes(packed);
#else
    WARN("SKIPPED: the packed kernel is compiled only with AVX-512 (-march=native on such a machine)");
#endif
}

TEST_CASE("the convolution shapes take the packed kernel; other shapes and types fall back to Eigen", "[gemm]") {
    // The flowers model's products (tile rows, K, F): the dispatch must choose the packed kernel for them.
    for (auto [rows, K, F] : {std::array<index_t, 3>{4096, 27, 16}, {910, 144, 32}, {455, 288, 64}}) {
        CHECK(kernels::packed_gemm_wins_nn(rows, F, K));
        CHECK(kernels::packed_gemm_wins_tn(K, F, rows));
        CHECK(kernels::packed_gemm_wins_nt(rows, K, F));
    }
    CHECK_FALSE(kernels::packed_gemm_wins_nn(4096, 1, 288));  // one filter: 15 of 16 lanes idle, Eigen's GEMV wins
    CHECK_FALSE(kernels::packed_gemm_wins_tn(288, 3, 4096));
    CHECK_FALSE(kernels::packed_gemm_wins_nt(455, 3, 128));
    CHECK_FALSE(kernels::packed_gemm_wins_nn(0, 16, 27));  // empty products never reach the kernel
    CHECK_FALSE(kernels::packed_gemm_wins_nt(100, 27, 0));

    // Empty inner dimension: C = 0, or C unchanged when accumulating (Eigen's answer).
    Generator g(3);
    for (Op op : {Op::nn, Op::tn, Op::nt})
        for (bool accumulate : {false, true}) {
            const Problem p = make_problem(op, 9, 17, 0, g);
            INFO(op_name(op) << " K=0 accumulate=" << accumulate);
            CHECK(worst_error(p, accumulate, dispatch) == 0);
        }

    // double always goes through Eigen.
    const index_t M = 13, N = 17, K = 9;
    std::vector<double> A(M * K), B(K * N), C(M * N, 0.5);
    for (auto& v : A) v = g.uniform(-1, 1);
    for (auto& v : B) v = g.uniform(-1, 1);
    kernels::gemm_nn<double>(M, N, K, A.data(), K, B.data(), N, C.data(), N, true);
    double worst = 0;
    for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) {
            double s = 0.5;
            for (index_t k = 0; k < K; ++k)
                s += A[static_cast<std::size_t>(i * K + k)] * B[static_cast<std::size_t>(k * N + j)];
            worst = std::max(worst, std::abs(C[static_cast<std::size_t>(i * N + j)] - s));
        }
    CHECK(worst < 1e-12);
}
