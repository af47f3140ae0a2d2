// Forward and backward of the three convolutions of the Keras flowers model (batch 32, 3x3, 'same', relu):
//   conv1 (32, 180, 180, 3)  -> 16 filters
//   conv2 (32, 90, 90, 16)   -> 32 filters
//   conv3 (32, 45, 45, 32)   -> 64 filters
// Arguments: /layer/threads. Counter GFLOP/s: forward 2*N*OH*OW*K*F flops (K = 3*3*C); backward counts the two
// products dW and dX, 2 * 2*N*OH*OW*K*F (bias, activation and im2col work is not counted, as usual).
// bench/torch_conv.py times the same convolutions in PyTorch and prints the ratios.
#include <benchmark/benchmark.h>

#include "lumen/core/random.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/layers/Conv2D.hpp"

namespace {

using namespace lumen;

struct FlowerConv {
    const char* name;
    index_t h, w, c, filters;
};
constexpr index_t kBatch = 32;
constexpr FlowerConv kFlowerConvs[] = {
    {"conv1 180x180x3->16", 180, 180, 3, 16},
    {"conv2 90x90x16->32", 90, 90, 16, 32},
    {"conv3 45x45x32->64", 45, 45, 32, 64},
};

double conv_flops(const FlowerConv& l) { return 2.0 * double(kBatch * l.h * l.w) * double(9 * l.c * l.filters); }

struct Setup {
    layers::Conv2D<float> conv;
    Tensor<float> x;
    explicit Setup(const FlowerConv& l) : conv(l.filters, 3, {.padding = "same", .activation = "relu"}) {
        conv.build(Shape{l.h, l.w, l.c}, 1);
        x = Tensor<float>(Shape{kBatch, l.h, l.w, l.c});
        Generator g(2);
        for (auto& v : x) v = static_cast<float>(g.uniform(0, 1));
    }
};

void BM_Conv2D_forward(benchmark::State& state) {
    const FlowerConv& l = kFlowerConvs[state.range(0)];
    set_num_threads(static_cast<int>(state.range(1)));
    Setup s(l);
    for (auto _ : state) {
        Tensor<float> y = s.conv.forward(s.x, true);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetLabel(l.name);
    state.counters["GFLOP/s"] = benchmark::Counter(conv_flops(l) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Conv2D_backward(benchmark::State& state) {
    const FlowerConv& l = kFlowerConvs[state.range(0)];
    set_num_threads(static_cast<int>(state.range(1)));
    Setup s(l);
    const Tensor<float> y = s.conv.forward(s.x, true);
    Tensor<float> dy(y.shape());
    Generator g(3);
    for (auto& v : dy) v = static_cast<float>(g.uniform(-1, 1));
    for (auto _ : state) {
        Tensor<float> dx = s.conv.backward(dy);
        benchmark::DoNotOptimize(dx.data());
    }
    state.SetLabel(l.name);
    state.counters["GFLOP/s"] =
        benchmark::Counter(2 * conv_flops(l) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void flower_args(benchmark::internal::Benchmark* b) {
    for (int threads : {1, 2})
        for (int layer = 0; layer < 3; ++layer) b->Args({layer, threads});
    b->ArgNames({"layer", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_Conv2D_forward)->Apply(flower_args);
BENCHMARK(BM_Conv2D_backward)->Apply(flower_args);
