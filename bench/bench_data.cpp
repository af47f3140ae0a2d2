// The image pipeline's throughput, in images per second (Google Benchmark's items_per_second):
//   data/decode            stb JPEG decode of real flower photos (320 px long side), to RGB
//   data/resize/<method>   one 320x240 RGB uint8 image to 180x180 (TF bilinear, PIL bilinear, nearest, area)
//   data/augment/threads:N ImageDataGenerator (rotation 40, shifts 0.2, shear 0.2, zoom 0.2, flip, rescale) over
//                          flow(x) batches of 32 images of 150x150x3: N = 1 is the caller alone (workers 0),
//                          N = 2 prefetches with two worker threads
//   data/epoch_cached      a full pass of image_dataset_from_directory over cached flowers (180x180), i.e. what
//                          fit() pays per epoch for data once every file is decoded
//   epoch/flowers          the flowers example's training epoch as fit() runs it (JPEGs from the cache after a first
//                          epoch, augmentation layers, Adam), timed per step: issue 6's whole-epoch check divides it
//                          by train_step/flowers, best in one run with --benchmark_enable_random_interleaving
// The photos come from ../shared/data/flower_photos (LUMEN_SHARED_DIR); without them decode uses JPEGs that
// lumen writes itself and epoch_cached is skipped.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/data/DirectoryDataset.hpp"
#include "lumen/data/ImageDataGenerator.hpp"
#include "lumen/data/image_utils.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/RandomFlip.hpp"
#include "lumen/layers/RandomRotation.hpp"
#include "lumen/layers/RandomZoom.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/losses/SparseCategoricalCrossentropy.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/optimizers/Adam.hpp"

namespace {

using namespace lumen;
namespace fs = std::filesystem;

fs::path flowers_dir() {
    const char* env = std::getenv("LUMEN_SHARED_DIR");
    const fs::path shared = env ? fs::path(env) : fs::path(__FILE__).parent_path() / ".." / ".." / "shared";
    return shared / "data" / "flower_photos";
}

// 64 JPEG files held in memory, so decode measures decoding, not the disk.
const std::vector<std::vector<std::uint8_t>>& jpeg_corpus() {
    static const std::vector<std::vector<std::uint8_t>> corpus = [] {
        std::vector<std::vector<std::uint8_t>> out;
        const fs::path dir = flowers_dir() / "roses";
        if (fs::exists(dir)) {
            std::vector<fs::path> files;
            for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
            std::sort(files.begin(), files.end());
            for (std::size_t i = 0; i < files.size() && out.size() < 64; ++i) out.push_back(data::read_file(files[i]));
        } else {
            Generator g(1);
            data::Image img(240, 320, 3);
            for (auto& p : img.pixels) p = std::uint8_t(g.below(256));
            const fs::path tmp = fs::temp_directory_path() / "lumen_bench.jpg";
            data::save_img(tmp, img, 90);
            out.assign(64, data::read_file(tmp));
        }
        return out;
    }();
    return corpus;
}

void decode(benchmark::State& state) {
    const auto& corpus = jpeg_corpus();
    std::size_t i = 0;
    for (auto _ : state) {
        data::Image img = data::decode_image(corpus[i % corpus.size()], 3, "bench");
        benchmark::DoNotOptimize(img.pixels.data());
        ++i;
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK(decode)->Name("data/decode")->Unit(benchmark::kMicrosecond);

void resize(benchmark::State& state, kernels::Interpolation method, bool antialias) {
    Generator g(2);
    data::Image img(240, 320, 3);
    for (auto& p : img.pixels) p = std::uint8_t(g.below(256));
    for (auto _ : state) {
        data::Image out = data::resize_image(img, 180, 180, method, antialias);
        benchmark::DoNotOptimize(out.pixels.data());
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()));
}
BENCHMARK_CAPTURE(resize, tf_bilinear, kernels::Interpolation::bilinear, false)->Name("data/resize/tf_bilinear")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(resize, pil_bilinear, kernels::Interpolation::bilinear, true)->Name("data/resize/pil_bilinear")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(resize, nearest, kernels::Interpolation::nearest, false)->Name("data/resize/nearest")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(resize, area, kernels::Interpolation::area, false)->Name("data/resize/area")->Unit(benchmark::kMicrosecond);

void augment(benchmark::State& state) {
    const int threads = int(state.range(0));
    constexpr index_t N = 256;
    Tensor<float> x(Shape{N, 150, 150, 3});
    Generator g(3);
    for (auto& v : x) v = float(g.below(256));
    const Tensor<float> y(Shape{N});
    data::ImageDataGenerator gen({.rotation_range = 40, .width_shift_range = 0.2, .height_shift_range = 0.2,
                                  .shear_range = 0.2, .zoom_range = 0.2, .horizontal_flip = true,
                                  .rescale = 1.0 / 255});
    auto it = gen.flow(x, y, {.batch_size = 32, .seed = 1, .workers = threads == 1 ? 0 : threads});
    for (auto _ : state) {
        for (index_t i = 0; i < it.num_batches(); ++i) benchmark::DoNotOptimize(it.batch(i).x.data());
        it.on_epoch_end();
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()) * N);
}
BENCHMARK(augment)->Name("data/augment/threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void epoch_cached(benchmark::State& state) {
    const fs::path dir = flowers_dir();
    if (!fs::exists(dir)) {
        state.SkipWithError("flower_photos not found (set LUMEN_SHARED_DIR)");
        return;
    }
    std::ostringstream quiet;
    std::streambuf* old = std::cout.rdbuf(quiet.rdbuf());
    auto ds = data::image_dataset_from_directory(dir, {.image_size = {180, 180}, .seed = 123});
    std::cout.rdbuf(old);
    for (auto _ : state) {
        for (index_t i = 0; i < ds.num_batches(); ++i) benchmark::DoNotOptimize(ds.batch(i).x.data());
        ds.on_epoch_end();
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()) * ds.num_samples());
}
BENCHMARK(epoch_cached)->Name("data/epoch_cached")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// examples/flowers.cpp's model and data (training subset, 0.2 split, seed 123, batch 32). One warm-up epoch decodes
// every file into the cache; each iteration is then one training epoch (no validation), and the time reported is
// per step, so it reads against train_step/flowers directly.
void epoch_flowers(benchmark::State& state) {
    const fs::path dir = flowers_dir();
    if (!fs::exists(dir)) {
        state.SkipWithError("flower_photos not found (set LUMEN_SHARED_DIR)");
        return;
    }
    set_num_threads(static_cast<int>(state.range(0)));
    auto [train, val] = data::image_dataset_from_directory_both<float>(
        dir, {.batch_size = 32, .image_size = {180, 180}, .seed = 123, .validation_split = 0.2, .verbose = false});
    const layers::Conv2DOptions relu_same{.padding = "same", .activation = "relu"};
    Sequential<float> m({layers::Input({180, 180, 3}), layers::RandomFlip("horizontal"), layers::RandomRotation(0.1),
                         layers::RandomZoom(0.1), layers::Rescaling(1.0 / 255), layers::Conv2D(16, 3, relu_same),
                         layers::MaxPooling2D(), layers::Conv2D(32, 3, relu_same), layers::MaxPooling2D(),
                         layers::Conv2D(64, 3, relu_same), layers::MaxPooling2D(), layers::Dropout(0.2),
                         layers::Flatten(), layers::Dense(128, {.activation = "relu"}),
                         layers::Dense(index_t(train->class_names().size()))},
                        {.name = "flowers", .seed = 123});
    m.compile(optimizers::Adam<float>(), losses::SparseCategoricalCrossentropy<float>({.from_logits = true}),
              {"accuracy"});
    m.fit(*train, {.epochs = 1, .verbose = 0});  // warm-up: every file decoded, workspaces allocated
    const index_t steps = train->num_batches();
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        m.fit(*train, {.epochs = 1, .verbose = 0});
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        state.SetIterationTime(took.count() / double(steps));
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()) * train->num_samples() / steps);  // per step, as the time
    state.counters["steps"] = double(steps);
}
BENCHMARK(epoch_flowers)->Name("epoch/flowers")->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)
    ->UseManualTime()->Iterations(2);

}  // namespace
