// Whole-model benchmarks: train_step/<model> (forward + backward + Adam step on an in-memory batch) and
// predict/<model> (inference), for the five models of bench/README.md, plus a per-layer forward/backward
// breakdown of the flowers and fashion_mnist models (layers/<model>/...) and the flowers example's augmentation
// layers (layers/flowers_augment/...). items_per_second counts images; GFLOPs/s counts the
// convolution and dense multiply-adds (training = 3x forward: forward, dX and dW products).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/random.hpp"
#include "lumen/core/threads.hpp"
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
#include "lumen/losses/BinaryCrossentropy.hpp"
#include "lumen/losses/CategoricalCrossentropy.hpp"
#include "lumen/losses/SparseCategoricalCrossentropy.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/optimizers/Adam.hpp"

namespace {

using namespace lumen;
using layers::Conv2D;
using layers::Dense;
using layers::Dropout;
using layers::Flatten;
using layers::Input;
using layers::MaxPooling2D;
using layers::Rescaling;

struct ModelCase {
    const char* name;
    Shape input;
    index_t batch;
    int classes;  // 1: sigmoid + binary crossentropy; else softmax or logits + categorical
};

const std::vector<ModelCase>& cases() {
    static const std::vector<ModelCase> c = {{"flowers", {180, 180, 3}, 32, 5},
                                             {"cats_dogs", {256, 256, 3}, 32, 1},
                                             {"caltech", {150, 150, 3}, 32, 1},
                                             {"car_bus", {64, 64, 3}, 32, 1},
                                             {"fashion_mnist", {28, 28, 1}, 128, 10}};
    return c;
}

// The Keras definitions of bench/README.md.
Sequential<float> make_model(const std::string& name) {
    const layers::Conv2DOptions relu_same{.padding = "same", .activation = "relu"};
    const layers::Conv2DOptions relu{.activation = "relu"};
    Sequential<float> m;
    if (name == "flowers") {
        m = Sequential<float>{Input({180, 180, 3}), Rescaling(1.0 / 255), Conv2D(16, 3, relu_same), MaxPooling2D(),
                              Conv2D(32, 3, relu_same), MaxPooling2D(), Conv2D(64, 3, relu_same), MaxPooling2D(),
                              Dropout(0.2), Flatten(), Dense(128, {.activation = "relu"}), Dense(5)};
        m.compile(optimizers::Adam<float>(), losses::SparseCategoricalCrossentropy<float>({.from_logits = true}));
    } else if (name == "cats_dogs") {
        m = Sequential<float>{Input({256, 256, 3}), Conv2D(32, 3, relu), MaxPooling2D(), Flatten(),
                              Dense(128, {.activation = "relu"}), Dense(1, {.activation = "sigmoid"})};
        m.compile(optimizers::Adam<float>(), losses::BinaryCrossentropy<float>());
    } else if (name == "caltech") {
        m = Sequential<float>{Input({150, 150, 3}), Conv2D(16, 3, relu), MaxPooling2D(), Conv2D(32, 3, relu),
                              MaxPooling2D(), Conv2D(64, 3, relu), MaxPooling2D(), Flatten(),
                              Dense(128, {.activation = "relu"}), Dense(1, {.activation = "sigmoid"})};
        m.compile(optimizers::Adam<float>(), losses::BinaryCrossentropy<float>());
    } else if (name == "car_bus") {
        m = Sequential<float>{Input({64, 64, 3}), Conv2D(32, 3, relu), MaxPooling2D(), Conv2D(32, 3, relu),
                              MaxPooling2D(), Flatten(), Dense(128, {.activation = "relu"}),
                              Dense(1, {.activation = "sigmoid"})};
        m.compile(optimizers::Adam<float>(), losses::BinaryCrossentropy<float>());
    } else {
        m = Sequential<float>{Input({28, 28, 1}), Conv2D(32, 3, relu), MaxPooling2D(), Conv2D(64, 3, relu),
                              MaxPooling2D(), Flatten(), Dropout(0.5), Dense(10, {.activation = "softmax"})};
        m.compile(optimizers::Adam<float>(), losses::CategoricalCrossentropy<float>());
    }
    return m;
}

// Multiply-add FLOPs of one image's forward pass through the conv and dense layers.
double forward_flops(Sequential<float>& m) {
    double flops = 0;
    for (const auto& l : m.layers()) {
        const Shape& out = l->output_shape();
        if (l->class_name() == "Conv2D") {
            const Shape k = l->weights()[0]->value.shape();  // (kh, kw, cin, f)
            flops += 2.0 * double(out[0] * out[1]) * double(k[0] * k[1] * k[2]) * double(k[3]);
        } else if (l->class_name() == "Dense") {
            const Shape k = l->weights()[0]->value.shape();  // (in, units)
            flops += 2.0 * double(k[0]) * double(k[1]);
        }
    }
    return flops;
}

Tensor<float> random_images(const ModelCase& c, std::uint64_t seed) {
    Generator g(seed);
    Tensor<float> x(c.input.with_batch(c.batch));
    for (auto& v : x) v = static_cast<float>(g.uniform(0, 255));
    return x;
}

Tensor<float> random_labels(const ModelCase& c, std::uint64_t seed) {
    Generator g(seed);
    if (c.classes == 1) {
        Tensor<float> y(Shape{c.batch, 1});
        for (auto& v : y) v = static_cast<float>(g.below(2));
        return y;
    }
    if (std::string(c.name) == "flowers") {  // sparse labels
        Tensor<float> y(Shape{c.batch});
        for (auto& v : y) v = static_cast<float>(g.below(static_cast<std::uint64_t>(c.classes)));
        return y;
    }
    Tensor<float> y(Shape{c.batch, c.classes});
    for (index_t i = 0; i < c.batch; ++i) y.at(i, static_cast<index_t>(g.below(static_cast<std::uint64_t>(c.classes)))) = 1;
    return y;
}

void set_counters(benchmark::State& state, const ModelCase& c, double flops_per_image) {
    const double images = double(state.iterations()) * double(c.batch);
    state.SetItemsProcessed(static_cast<std::int64_t>(images));
    state.counters["GFLOPs/s"] = benchmark::Counter(images * flops_per_image * 1e-9, benchmark::Counter::kIsRate);
    state.counters["threads"] = num_threads();
}

void BM_train_step(benchmark::State& state, const ModelCase& c) {
    set_num_threads(static_cast<int>(state.range(0)));
    Sequential<float> m = make_model(c.name);
    const Tensor<float> x = random_images(c, 1), y = random_labels(c, 2);
    m.train_on_batch(x, y);  // warm-up: workspaces and optimizer slots allocated
    for (auto _ : state) benchmark::DoNotOptimize(m.train_on_batch(x, y));
    set_counters(state, c, 3 * forward_flops(m));
}

void BM_predict(benchmark::State& state, const ModelCase& c) {
    set_num_threads(static_cast<int>(state.range(0)));
    Sequential<float> m = make_model(c.name);
    const Tensor<float> x = random_images(c, 1);
    const PredictOptions quiet{.batch_size = c.batch, .verbose = 0};
    m.predict(x, quiet);
    for (auto _ : state) benchmark::DoNotOptimize(m.predict(x, quiet));
    set_counters(state, c, forward_flops(m));
}

// Per-layer breakdown of a model (flowers, fashion_mnist): forward (training mode) and backward of each layer alone,
// backward as train_step calls it (no dx for the first layer with weights). A layer that train_step runs fused with
// the next (a Conv2D and its 2x2 MaxPooling2D, Layer::fuses_with) is timed as that pair: "conv2d+max_pooling2d".
void BM_layer(benchmark::State& state, const ModelCase& c, std::size_t index, bool backward, bool fused) {
    set_num_threads(static_cast<int>(state.range(0)));
    Sequential<float> m = make_model(c.name);
    Tensor<float> x = random_images(c, 1);
    for (std::size_t i = 0; i < index; ++i) x = m.layers()[i]->forward(x, true);
    auto& layer = *m.layers()[index];
    // As in train_step: the lowest layer with weights does not compute the dx nobody reads.
    auto trains = [](layers::Layer<float>& l) {
        const auto w = l.weights();
        return l.trainable() && std::any_of(w.begin(), w.end(), [](const Weight<float>* v) { return v->trainable; });
    };
    std::size_t first = 0;
    while (!trains(*m.layers()[first])) ++first;
    layer.set_input_gradient_needed(index != first);
    auto& next = *m.layers()[index + (fused ? 1 : 0)];
    auto forward = [&] { return fused ? layer.forward_fused(x, true, next) : layer.forward(x, true); };
    Tensor<float> y = forward();
    for (auto _ : state) {
        if (backward) {
            benchmark::DoNotOptimize(fused ? layer.backward_fused(y, next) : layer.backward(y));
        } else {
            benchmark::DoNotOptimize(forward());
        }
    }
    state.SetItemsProcessed(state.iterations() * c.batch);
    state.SetLabel(fused ? layer.name() + "+" + next.name() : layer.name());
}

// Whether train_step runs layer i of m fused with layer i + 1 (Sequential's rule: never the last two layers).
bool fused_in_training(Sequential<float>& m, std::size_t i) {
    return i + 2 < m.layers().size() && m.layers()[i]->fuses_with(*m.layers()[i + 1]);
}

// The flowers example's augmentation layers (RandomFlip horizontal, RandomRotation 0.1, RandomZoom 0.1) on a
// training batch of 32 180x180 RGB images: what an epoch of the example costs on top of train_step/flowers.
void BM_flowers_augment(benchmark::State& state, int which) {
    set_num_threads(static_cast<int>(state.range(0)));
    std::shared_ptr<layers::Layer<float>> layer;
    if (which == 0) layer = std::make_shared<layers::RandomFlip<float>>("horizontal");
    if (which == 1) layer = std::make_shared<layers::RandomRotation<float>>(0.1);
    if (which == 2) layer = std::make_shared<layers::RandomZoom<float>>(0.1);
    layer->build(Shape{180, 180, 3}, 7);
    const ModelCase& flowers = *std::find_if(cases().begin(), cases().end(),
                                             [](const ModelCase& c) { return std::string(c.name) == "flowers"; });
    const Tensor<float> x = random_images(flowers, 1);
    for (auto _ : state) benchmark::DoNotOptimize(layer->forward(x, true));
    state.SetItemsProcessed(state.iterations() * 32);
    state.SetLabel(layer->class_name());
}

// The example's front end as the model runs it in training: flip, rotation, zoom and Rescaling(1/255), image by
// image (fused: Sequential's image chain, each image through all four while it is in L2) or layer by layer
// (apart). Both end in a Flatten (a model's last layer never joins a chain), which copies the batch once.
void BM_flowers_front(benchmark::State& state, bool fused) {
    set_num_threads(static_cast<int>(state.range(0)));
    Sequential<float> m({layers::Input({180, 180, 3}), layers::RandomFlip("horizontal"), layers::RandomRotation(0.1),
                         layers::RandomZoom(0.1), layers::Rescaling(1.0 / 255), layers::Flatten()},
                        {.name = "front", .seed = 7});
    m.set_layer_fusion(fused);
    const ModelCase& flowers = *std::find_if(cases().begin(), cases().end(),
                                             [](const ModelCase& c) { return std::string(c.name) == "flowers"; });
    const Tensor<float> x = random_images(flowers, 1);
    for (auto _ : state) benchmark::DoNotOptimize(m.call(x, true));
    state.SetItemsProcessed(state.iterations() * 32);
}

const bool registered = [] {
    for (const ModelCase& c : cases()) {
        benchmark::RegisterBenchmark((std::string("train_step/") + c.name).c_str(), BM_train_step, c)
            ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
        benchmark::RegisterBenchmark((std::string("predict/") + c.name).c_str(), BM_predict, c)
            ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
    }
    for (const ModelCase& c : cases()) {
        if (std::string(c.name) != "flowers" && std::string(c.name) != "fashion_mnist") continue;
        Sequential<float> m = make_model(c.name);
        for (std::size_t i = 0; i < m.layers().size(); ++i) {
            const bool fused = fused_in_training(m, i);
            const std::string n = m.layers()[i]->name() + (fused ? "+" + m.layers()[i + 1]->name() : "");
            for (bool bwd : {false, true})
                benchmark::RegisterBenchmark(
                    ("layers/" + std::string(c.name) + "/" + n + (bwd ? "/backward" : "/forward")).c_str(), BM_layer,
                    c, i, bwd, fused)
                    ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
            if (fused) ++i;
        }
    }
    for (int which = 0; which < 3; ++which)
        benchmark::RegisterBenchmark(
            (std::string("layers/flowers_augment/") + (which == 0 ? "flip" : which == 1 ? "rotation" : "zoom")).c_str(),
            BM_flowers_augment, which)
            ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
    for (bool fused : {true, false})
        benchmark::RegisterBenchmark(fused ? "layers/flowers_augment/front_fused" : "layers/flowers_augment/front_apart",
                                     BM_flowers_front, fused)
            ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
    return true;
}();

}  // namespace
