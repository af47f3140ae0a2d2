// The three products of the flowers model's convolutions, Eigen against lumen's packed AVX-512 kernel, on one
// thread and on the tile sizes Conv2D uses (rows = clamp(2^17 / K, 256, 4096) output pixels per tile):
//   nn  forward  C(rows, F) = cols(rows, K) * W(K, F)
//   tn  dW       C(K, F)   += cols(rows, K)^T * dZ(rows, F)
//   nt  dcols    C(rows, K) = dZ(rows, F) * W(K, F)^T
// Arguments: /layer/op/impl (impl 0 = Eigen, 1 = packed). Counter GFLOP/s: 2 * rows * K * F per call.
// The packed rows are skipped when the build has no AVX-512 (compile with -march=native on such a machine).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/gemm.hpp"

namespace {

using namespace lumen;

struct ConvGemm {
    const char* name;
    index_t K, F;
};
constexpr ConvGemm kConvGemms[] = {
    {"conv1 K=27 F=16", 27, 16}, {"conv2 K=144 F=32", 144, 32}, {"conv3 K=288 F=64", 288, 64}};
constexpr const char* kOps[] = {"nn forward", "tn dW", "nt dcols"};

index_t tile_rows(index_t K) { return std::clamp<index_t>((index_t{1} << 17) / K, 256, 4096); }

std::vector<float> random_vector(index_t n, Generator& g) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = static_cast<float>(g.uniform(-1, 1));
    return v;
}

// Times one product (op 0 nn, 1 tn, 2 nt) of a Conv2D tile with K = patch size and F filters, on one thread.
void time_products(benchmark::State& state, int op, index_t K, index_t F, bool packed, std::uint64_t seed) {
    set_num_threads(1);
    const index_t rows = tile_rows(K);
    Generator g(seed);
    const std::vector<float> cols = random_vector(rows * K, g), dz = random_vector(rows * F, g),
                             w = random_vector(K * F, g);
    std::vector<float> c(static_cast<std::size_t>(rows * std::max(K, F)));
    float* C = c.data();
    for (auto _ : state) {
#if defined(__AVX512F__)
        if (packed) {
            if (op == 0) kernels::avx512::gemm_nn(rows, F, K, cols.data(), K, w.data(), F, C, F, false);
            if (op == 1) kernels::avx512::gemm_tn(K, F, rows, cols.data(), K, dz.data(), F, C, F, true);
            if (op == 2) kernels::avx512::gemm_nt(rows, K, F, dz.data(), F, w.data(), F, C, K, false);
        }
#endif
        if (!packed) {
            if (op == 0) kernels::eigen::gemm_nn(rows, F, K, cols.data(), K, w.data(), F, C, F, false);
            if (op == 1) kernels::eigen::gemm_tn(K, F, rows, cols.data(), K, dz.data(), F, C, F, true);
            if (op == 2) kernels::eigen::gemm_nt(rows, K, F, dz.data(), F, w.data(), F, C, K, false);
        }
        benchmark::DoNotOptimize(C);
        benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * double(rows * K * F) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ConvGemm(benchmark::State& state) {
    const ConvGemm& s = kConvGemms[state.range(0)];
    const int op = static_cast<int>(state.range(1));
    const bool packed = state.range(2) == 1;
    state.SetLabel(std::string(s.name) + " " + kOps[op] + (packed ? " packed" : " eigen"));
    if (packed && !kernels::packed_gemm_available) {
        state.SkipWithError("no AVX-512 in this build");
        return;
    }
    time_products(state, op, s.K, s.F, packed, 5);
}

// Beyond the flowers model: every (K, F) of a 3x3 or 1x1 convolution on C = 1 .. 128 channels, F = 1 .. 128 filters,
// to find where the packed kernel stops winning. Arguments /op/K/F/impl, same products and counter as above.
void BM_GemmSweep(benchmark::State& state) {
    const int op = static_cast<int>(state.range(0));
    const index_t K = state.range(1), F = state.range(2);
    const bool packed = state.range(3) == 1;
    if (packed && !kernels::packed_gemm_available) {
        state.SkipWithError("no AVX-512 in this build");
        return;
    }
    time_products(state, op, K, F, packed, 6);
}

void sweep_args(benchmark::internal::Benchmark* b) {
    for (int op = 0; op < 3; ++op)
        for (index_t K : {3, 9, 16, 27, 64, 144, 288, 576, 1152})
            for (index_t F : {1, 3, 8, 16, 24, 32, 48, 64, 96, 128})
                for (int impl = 0; impl < 2; ++impl) b->Args({op, K, F, impl});
    b->ArgNames({"op", "K", "F", "impl"})->Unit(benchmark::kMicrosecond);
}

void conv_gemm_args(benchmark::internal::Benchmark* b) {
    for (int layer = 0; layer < 3; ++layer)
        for (int op = 0; op < 3; ++op)
            for (int impl = 0; impl < 2; ++impl) b->Args({layer, op, impl});
    b->ArgNames({"layer", "op", "impl"})->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_ConvGemm)->Apply(conv_gemm_args);
BENCHMARK(BM_GemmSweep)->Apply(sweep_args);
