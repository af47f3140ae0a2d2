// fma_peak/threads:N: the machine's measured float32 FMA ceiling, the denominator of "% of peak" in bench/compare.
//
// Each of N threads (lumen's thread knob, as every model benchmark uses it) runs 16 independent chains of vector
// FMAs, acc = acc * m + a, on registers only: no loads, no stores, enough chains to cover the FMA latency on two
// ports. Counter GFLOP/s: 2 flops per lane per FMA. A model's GFLOP/s divided by this is the fraction of what the
// cores can do at all, measured on the same machine in the same run (issue 6's 175 / 345 GFLOP/s is the nominal
// figure at the base clock; turbo, AVX-512 frequency licences and a shared host move the real one).
// Without AVX-512 the same loop runs on 8-lane AVX2 FMAs; without either it reports an error and is skipped.
#include <benchmark/benchmark.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#include "lumen/core/threads.hpp"

namespace {

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec broadcast(float x) { return _mm512_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float sum(Vec v) {  // not _mm512_reduce_add_ps: GCC 12 warns inside it (_mm256_undefined_pd)
    alignas(64) float f[16];
    _mm512_store_ps(f, v);
    float s = 0;
    for (float x : f) s += x;
    return s;
}
#elif defined(__AVX2__) && defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec broadcast(float x) { return _mm256_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float sum(Vec v) {
    alignas(32) float f[8];
    _mm256_store_ps(f, v);
    return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
#endif

constexpr int kChains = 16;
constexpr long kRounds = 1 << 16;  // FMAs per chain per iteration: 16 * 65536 * lanes * 2 flops per thread

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// 16 chains of kRounds dependent FMAs each; the multiplier stays just below 1, so nothing overflows or goes subnormal.
float fma_chains(float seed) {
    const Vec m = broadcast(0.9999999f), a = broadcast(1e-7f);
    Vec acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = broadcast(seed + float(i));
    for (long r = 0; r < kRounds; ++r) {
#pragma GCC unroll 16
        for (int i = 0; i < kChains; ++i) acc[i] = fma(acc[i], m, a);
    }
    float s = 0;
    for (int i = 0; i < kChains; ++i) s += sum(acc[i]);
    return s;
}
#endif

void BM_fma_peak(benchmark::State& state) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
    const int threads = static_cast<int>(state.range(0));
    lumen::set_num_threads(threads);
    float sink = 0;
    for (auto _ : state) {
#pragma omp parallel num_threads(lumen::num_threads()) reduction(+ : sink)
        sink += fma_chains(1.0f);
        benchmark::DoNotOptimize(sink);
    }
    const double flops = double(threads) * kChains * double(kRounds) * kLanes * 2.0;
    state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["threads"] = threads;
    state.SetLabel(kLanes == 16 ? "avx512 zmm" : "avx2 ymm");
#else
    state.SkipWithError("no AVX2/FMA or AVX-512 in this build (compile with -march=native)");
#endif
}

}  // namespace

BENCHMARK(BM_fma_peak)->Name("fma_peak")->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->MinTime(0.5);
