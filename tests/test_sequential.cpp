// Sequential over the Layer<T> interface: names, build, weights, compile/fit/evaluate/predict numbers,
// validation_split, class_weight, frozen layers, NaN handling, determinism. Uses small stand-in layers defined
// here so these tests do not depend on the library's layers.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <memory>
#include <sstream>

#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/RandomFlip.hpp"
#include "lumen/layers/RandomRotation.hpp"
#include "lumen/layers/RandomTranslation.hpp"
#include "lumen/layers/RandomZoom.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/losses/SparseCategoricalCrossentropy.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/model/callbacks.hpp"
#include "lumen/losses/get.hpp"
#include "lumen/optimizers/SGD.hpp"
#include "lumen/optimizers/Adam.hpp"

using namespace lumen;

namespace {

// y = x W + b on the last axis of a rank-2 input; W ~ U(-0.5, 0.5) from the layer's stream.
template <class T = float>
class ToyDense : public layers::Layer<T> {
public:
    explicit ToyDense(index_t units, std::string name = {}, double l2 = 0) : units_(units) {
        this->set_name(std::move(name));
        kernel_.regularizer.l2 = l2;
    }
    [[nodiscard]] std::string class_name() const override { return "ToyDense"; }
    Tensor<T> forward(const Tensor<T>& x, bool) override {
        this->check_input(x);
        x_ = x;
        Tensor<T> y(Shape{x.dim(0), units_});
        y.matrix() = x.matrix() * kernel_.value.matrix();
        y.matrix().rowwise() += bias_.value.matrix(1, units_).row(0);
        return y;
    }
    Tensor<T> backward(const Tensor<T>& dy) override {
        ++(this->input_gradient_needed() ? calls_with_dx : calls_without_dx);
        kernel_.grad.matrix() += x_.matrix().transpose() * dy.matrix();
        bias_.grad.matrix(1, units_) += dy.matrix().colwise().sum();
        Tensor<T> dx(x_.shape());
        dx.matrix() = dy.matrix() * kernel_.value.matrix().transpose();
        return dx;
    }
    std::vector<Weight<T>*> weights() override { return {&kernel_, &bias_}; }
    [[nodiscard]] Config get_config() const override { return {{"name", this->name()}, {"units", std::to_string(units_)}}; }
    int calls_with_dx = 0, calls_without_dx = 0;  // backward calls by input_gradient_needed()

protected:
    Shape build_impl(const Shape& in) override {
        require(in.rank() == 1, "ToyDense: rank-1 input expected");
        kernel_ = {"kernel", Tensor<T>(Shape{in[0], units_}), Tensor<T>(Shape{in[0], units_}), true, kernel_.regularizer};
        for (auto& v : kernel_.value) v = static_cast<T>(this->rng().uniform(-0.5, 0.5));
        bias_ = {"bias", Tensor<T>(Shape{units_}), Tensor<T>(Shape{units_}), true, {}};
        return Shape{units_};
    }

private:
    index_t units_;
    Weight<T> kernel_, bias_;
    Tensor<T> x_;
};

// tanh, element-wise.
template <class T = float>
class ToyTanh : public layers::Layer<T> {
public:
    [[nodiscard]] std::string class_name() const override { return "ToyTanh"; }
    Tensor<T> forward(const Tensor<T>& x, bool) override {
        y_ = x;
        for (auto& v : y_) v = std::tanh(v);
        return y_;
    }
    Tensor<T> backward(const Tensor<T>& dy) override {
        Tensor<T> dx = dy;
        for (index_t i = 0; i < dx.size(); ++i) dx[i] *= T(1) - y_[i] * y_[i];
        return dx;
    }

protected:
    Shape build_impl(const Shape& in) override { return in; }

private:
    Tensor<T> y_;
};

// Two Gaussian blobs in 4-D, labels 0/1 as (N, 1).
inline std::pair<Tensor<float>, Tensor<float>> blobs(index_t n, std::uint64_t seed) {
    Generator g(seed);
    Tensor<float> x(Shape{n, 4}), y(Shape{n, 1});
    for (index_t i = 0; i < n; ++i) {
        const int label = static_cast<int>(i % 2);
        y[i] = float(label);
        for (index_t j = 0; j < 4; ++j) x.at(i, j) = float(g.normal(label ? 1.0 : -1.0, 0.7));
    }
    return {x, y};
}

}  // namespace

TEST_CASE("to_snake_case follows Keras", "[sequential]") {
    CHECK(to_snake_case("Conv2D") == "conv2d");
    CHECK(to_snake_case("MaxPooling2D") == "max_pooling2d");
    CHECK(to_snake_case("GlobalAveragePooling2D") == "global_average_pooling2d");
    CHECK(to_snake_case("BatchNormalization") == "batch_normalization");
    CHECK(to_snake_case("Dense") == "dense");
    CHECK(to_snake_case("ZeroPadding2D") == "zero_padding2d");
}

TEST_CASE("Sequential names layers, builds them and exposes weights", "[sequential]") {
    Sequential<float> model({ToyDense<float>(8), ToyTanh<float>(), ToyDense<float>(1)}, {.input_shape = Shape{4}});
    REQUIRE(model.built());
    CHECK(model.name() == "sequential");
    CHECK(model.layers()[0]->name() == "toy_dense");
    CHECK(model.layers()[1]->name() == "toy_tanh");
    CHECK(model.layers()[2]->name() == "toy_dense_1");
    CHECK(model.output_shape() == Shape{1});
    CHECK(model.count_params() == 4 * 8 + 8 + 8 + 1);
    CHECK(model.get_layer("toy_dense_1") == model.layers()[2]);
    CHECK_THROWS_WITH(model.get_layer("nope"), Catch::Contains("no layer named \"nope\""));

    auto w = model.get_weights();
    REQUIRE(w.size() == 4);
    CHECK(w[0].shape() == Shape{4, 8});
    w[3][0] = 42;
    model.set_weights(w);
    CHECK(model.get_weights()[3][0] == 42);
    w.pop_back();
    CHECK_THROWS_WITH(model.set_weights(w), Catch::Contains("set_weights got 3 arrays"));

    // explicit names are kept, duplicates refused
    Sequential<float> named({ToyDense<float>(2, "head")}, {.input_shape = Shape{3}});
    CHECK(named.layers()[0]->name() == "head");
    CHECK_THROWS_WITH(named.add(ToyDense<float>(2, "head")), Catch::Contains("two layers are named \"head\""));
}

TEST_CASE("Sequential builds lazily and checks input shapes", "[sequential]") {
    Sequential<float> model({ToyDense<float>(3)});
    CHECK_FALSE(model.built());
    CHECK_THROWS_WITH(model.summary(nullptr), Catch::Contains("not yet been built"));
    Tensor<float> x(Shape{5, 2}, 1.0f);
    const Tensor<float> y = model.predict(x, {.verbose = 0});
    CHECK(y.shape() == Shape{5, 3});
    CHECK(model.built());
    CHECK_THROWS_WITH(model.predict(Tensor<float>(Shape{5, 7}), {.verbose = 0}), Catch::Contains("expected input of shape (None, 2)"));
    CHECK_THROWS_WITH(model.fit(x, x, {.verbose = 0}), Catch::Contains("compile"));
}

TEST_CASE("fit learns, reports Keras' numbers and History keys in log order", "[sequential][fit]") {
    auto [x, y] = blobs(200, 3);
    Sequential<float> model({ToyDense<float>(8), ToyTanh<float>(), ToyDense<float>(1)}, {.input_shape = Shape{4}, .seed = 7});
    model.compile(optimizers::Adam<float>({.learning_rate = 0.01}),
                  losses::BinaryCrossentropy<float>({.from_logits = true}), {"accuracy"});
    const model::History h = model.fit(x, y, {.batch_size = 16, .epochs = 5, .verbose = 0, .validation_split = 0.25});
    CHECK(h.keys() == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
    CHECK(h.epoch() == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(h["loss"].back() < h["loss"].front());
    CHECK(h["accuracy"].back() > 0.9);
    // val_ numbers are evaluate() on the LAST 25% with the final weights
    const model::Logs ev = model.evaluate(x.slice(150, 200), y.slice(150, 200), {.batch_size = 16, .verbose = 0});
    CHECK(ev.at("loss") == Approx(h["val_loss"].back()).epsilon(1e-6));
    CHECK(ev.at("accuracy") == Approx(h["val_accuracy"].back()));
}

TEST_CASE("fit's loss is the batch-size-weighted mean of the batch losses", "[sequential][fit]") {
    auto [x, y] = blobs(10, 5);
    Sequential<float> model({ToyDense<float>(1)}, {.input_shape = Shape{4}});
    model.compile(optimizers::SGD<float>({.learning_rate = 0.0}), losses::BinaryCrossentropy<float>({.from_logits = true}));
    // lr 0: weights never move, so the epoch loss must equal the loss over all samples (batches 4, 4, 2)
    const auto h = model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false});
    const double full = model.evaluate(x, y, {.batch_size = 10, .verbose = 0}).at("loss");
    CHECK(h["loss"][0] == Approx(full).epsilon(1e-6));
}

TEST_CASE("doubling the batch with a copy leaves the gradients unchanged (batch means)", "[sequential][fit]") {
    auto [x, y] = blobs(6, 9);
    Sequential<double> model({ToyDense<double>(3), ToyTanh<double>(), ToyDense<double>(1)}, {.input_shape = Shape{4}});
    model.compile(optimizers::SGD<double>({.learning_rate = 0.0}), losses::BinaryCrossentropy<double>({.from_logits = true}));
    const Tensor<double> xd = x.cast<double>(), yd = y.cast<double>();
    Tensor<double> x2(Shape{12, 4}), y2(Shape{12, 1});
    std::copy(xd.begin(), xd.end(), x2.begin());
    std::copy(xd.begin(), xd.end(), x2.begin() + xd.size());
    std::copy(yd.begin(), yd.end(), y2.begin());
    std::copy(yd.begin(), yd.end(), y2.begin() + yd.size());
    const double l1 = model.train_on_batch(xd, yd).at("loss");
    std::vector<Tensor<double>> g1;
    for (auto* w : model.trainable_weights()) g1.push_back(w->grad);
    const double l2 = model.train_on_batch(x2, y2).at("loss");
    CHECK(l1 == Approx(l2).epsilon(1e-12));
    const auto ws = model.trainable_weights();
    for (std::size_t k = 0; k < ws.size(); ++k)
        for (index_t i = 0; i < g1[k].size(); ++i) CHECK(ws[k]->grad[i] == Approx(g1[k][i]).epsilon(1e-12));
}

TEST_CASE("class_weight scales each sample's loss by its class weight", "[sequential][fit]") {
    auto [x, y] = blobs(8, 11);
    Sequential<float> model({ToyDense<float>(1)}, {.input_shape = Shape{4}});
    model.compile(optimizers::SGD<float>({.learning_rate = 0.0}), losses::BinaryCrossentropy<float>({.from_logits = true}));
    const Tensor<float> per = losses::BinaryCrossentropy<float>({.from_logits = true}).per_sample(y, model.predict(x, {.verbose = 0}));
    double want = 0;
    for (index_t i = 0; i < 8; ++i) want += (y[i] > 0.5f ? 3.0 : 1.0) * per[i];
    want /= 8;
    const auto h = model.fit(x, y, {.batch_size = 8, .verbose = 0, .class_weight = {{0, 1.0}, {1, 3.0}}});
    CHECK(h["loss"][0] == Approx(want).epsilon(1e-5));
    CHECK_THROWS_WITH(model.fit(x, y, {.batch_size = 8, .verbose = 0, .class_weight = {{0, 1.0}}}),
                      Catch::Contains("class_weight has no entry for class 1"));
}

TEST_CASE("frozen layers are counted as non-trainable and left untouched", "[sequential][fit]") {
    auto [x, y] = blobs(64, 13);
    Sequential<float> model({ToyDense<float>(8), ToyTanh<float>(), ToyDense<float>(1)}, {.input_shape = Shape{4}});
    model.layers()[0]->set_trainable(false);
    const Tensor<float> before = model.layers()[0]->weights()[0]->value;
    const Tensor<float> head_before = model.layers()[2]->weights()[0]->value;
    model.compile("adam", losses::BinaryCrossentropy<float>({.from_logits = true}));
    model.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    const Tensor<float>& after = model.layers()[0]->weights()[0]->value;
    CHECK(std::equal(before.begin(), before.end(), after.begin()));
    CHECK_FALSE(std::equal(head_before.begin(), head_before.end(), model.layers()[2]->weights()[0]->value.begin()));
    CHECK(model.trainable_weights().size() == 2);
    const std::string s = model.summary(nullptr);
    CHECK_THAT(s, Catch::Contains("Trainable params: 9 (36.00 Byte)"));
    CHECK_THAT(s, Catch::Contains("Non-trainable params: 40 (160.00 Byte)"));
}

TEST_CASE("training a head over a frozen base equals training it on the base's features", "[sequential][fit]") {
    // fit() stops backward at the first layer with trainable weights; the head must not notice.
    auto [x, y] = blobs(64, 19);
    Sequential<float> whole({ToyDense<float>(8), ToyTanh<float>(), ToyDense<float>(1)}, {.input_shape = Shape{4}, .seed = 4});
    whole.layers()[0]->set_trainable(false);
    Sequential<float> base({ToyDense<float>(8), ToyTanh<float>()}, {.input_shape = Shape{4}});
    base.set_weights({whole.layers()[0]->weights()[0]->value, whole.layers()[0]->weights()[1]->value});
    const Tensor<float> features = base.predict(x, {.verbose = 0});
    Sequential<float> head({ToyDense<float>(1)}, {.input_shape = Shape{8}});
    head.set_weights({whole.layers()[2]->weights()[0]->value, whole.layers()[2]->weights()[1]->value});
    whole.compile(optimizers::SGD<float>({.learning_rate = 0.1, .momentum = 0.9}),
                  losses::BinaryCrossentropy<float>({.from_logits = true}));
    head.compile(optimizers::SGD<float>({.learning_rate = 0.1, .momentum = 0.9}),
                 losses::BinaryCrossentropy<float>({.from_logits = true}));
    const auto a = whole.fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .shuffle = false});
    const auto b = head.fit(features, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .shuffle = false});
    CHECK(a["loss"] == b["loss"]);
    const Tensor<float>& wa = whole.layers()[2]->weights()[0]->value;
    const Tensor<float>& wb = head.layers()[0]->weights()[0]->value;
    CHECK(std::equal(wa.begin(), wa.end(), wb.begin(), wb.end()));
}

TEST_CASE("train_step asks only the lowest trained layer to skip its input gradient, then restores the flag",
          "[sequential][fit]") {
    auto [x, y] = blobs(64, 23);
    for (bool freeze_base : {false, true}) {
        Sequential<float> model({ToyDense<float>(8), ToyTanh<float>(), ToyDense<float>(1)}, {.input_shape = Shape{4}});
        if (freeze_base) model.layers()[0]->set_trainable(false);
        model.compile("sgd", losses::BinaryCrossentropy<float>({.from_logits = true}));
        model.fit(x, y, {.batch_size = 16, .epochs = 1, .verbose = 0});
        auto& base = dynamic_cast<ToyDense<float>&>(*model.layers()[0]);
        auto& head = dynamic_cast<ToyDense<float>&>(*model.layers()[2]);
        INFO("frozen base: " << freeze_base);
        CHECK(base.calls_with_dx == 0);
        CHECK(base.calls_without_dx == (freeze_base ? 0 : 4));
        CHECK(head.calls_with_dx == (freeze_base ? 0 : 4));
        CHECK(head.calls_without_dx == (freeze_base ? 4 : 0));
        for (const auto& l : model.layers()) CHECK(l->input_gradient_needed());
    }
}

TEST_CASE("L2 kernel_regularizer is added to the loss and its gradient", "[sequential][fit]") {
    auto [x, y] = blobs(8, 17);
    Sequential<double> model({ToyDense<double>(1, "", 0.5)}, {.input_shape = Shape{4}});
    model.compile(optimizers::SGD<double>({.learning_rate = 0.0}), losses::BinaryCrossentropy<double>({.from_logits = true}));
    const Tensor<double> xd = x.cast<double>(), yd = y.cast<double>();
    double penalty = 0;
    for (double v : model.layers()[0]->weights()[0]->value) penalty += 0.5 * v * v;
    const double plain = losses::BinaryCrossentropy<double>({.from_logits = true})(yd, model.predict(xd, {.verbose = 0}));
    CHECK(model.train_on_batch(xd, yd).at("loss") == Approx(plain + penalty).epsilon(1e-12));
    CHECK(model.evaluate(xd, yd, {.verbose = 0}).at("loss") == Approx(plain + penalty).epsilon(1e-12));
}

TEST_CASE("same seed gives the same losses, another seed other losses", "[sequential][determinism]") {
    const auto data = blobs(96, 19);  // not a structured binding: clang 14 (the TSan build) cannot capture one
    const Tensor<float>& x = data.first;
    const Tensor<float>& y = data.second;
    auto run = [&](std::uint64_t seed) {
        Sequential<float> model({ToyDense<float>(8), ToyTanh<float>(), ToyDense<float>(1)}, {.input_shape = Shape{4}, .seed = seed});
        model.compile("adam", losses::BinaryCrossentropy<float>({.from_logits = true}));
        return model.fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0})["loss"];
    };
    const auto a = run(1), b = run(1), c = run(2);
    CHECK(a == b);
    CHECK(a != c);
}

TEST_CASE("a NaN loss stops fit with an Error naming epoch and step and keeps the last good weights", "[sequential][nan]") {
    auto [x, y] = blobs(32, 23);
    x.at(20, 1) = std::numeric_limits<float>::quiet_NaN();  // sample 20: batch 3 (0-based 2) without shuffling
    Sequential<float> model({ToyDense<float>(1)}, {.input_shape = Shape{4}});
    model.compile(optimizers::SGD<float>({.learning_rate = 0.1}), losses::BinaryCrossentropy<float>({.from_logits = true}));
    std::vector<Tensor<float>> good;
    callbacks::LambdaCallbackOptions fns;
    fns.on_batch_end = [&](index_t step, model::Logs&) { if (step == 1) good = model.get_weights(); };
    auto spy = std::make_shared<callbacks::LambdaCallback<float>>(fns);
    CHECK_THROWS_WITH(model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false, .callbacks = {spy}}),
                      Catch::Contains("loss is NaN at epoch 1, step 3"));
    const auto now = model.get_weights();
    for (std::size_t k = 0; k < now.size(); ++k) {
        CHECK(std::equal(now[k].begin(), now[k].end(), good[k].begin()));
        for (float v : now[k]) CHECK(std::isfinite(v));
    }
    // TerminateOnNaN: the same run ends quietly after the bad batch
    std::ostringstream out;
    auto h = model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false,
                              .callbacks = {std::make_shared<callbacks::TerminateOnNaN<float>>()}, .out = &out});
    CHECK(out.str() == "Batch 2: Invalid loss, terminating training\n");
    const auto final_weights = model.get_weights();
    for (float v : final_weights[0]) CHECK(std::isfinite(v));
}

namespace {
// A Keras-Sequence-like dataset over in-memory tensors, counting on_epoch_end calls.
class ToyDataset : public data::Dataset<float> {
public:
    ToyDataset(Tensor<float> x, Tensor<float> y, index_t batch) : x_(std::move(x)), y_(std::move(y)), batch_(batch) {}
    [[nodiscard]] index_t num_batches() const override { return (x_.dim(0) + batch_ - 1) / batch_; }
    [[nodiscard]] index_t num_samples() const override { return x_.dim(0); }
    data::Batch<float> batch(index_t i) override {
        const index_t b = i * batch_, e = std::min(x_.dim(0), b + batch_);
        return {x_.slice(b, e), y_.slice(b, e)};
    }
    void on_epoch_end() override { ++epochs_ended; }
    int epochs_ended = 0;

private:
    Tensor<float> x_, y_;
    index_t batch_;
};
}  // namespace

TEST_CASE("fit, evaluate and predict on a Dataset", "[sequential][dataset]") {
    auto [x, y] = blobs(40, 29);
    ToyDataset train(x.slice(0, 32), y.slice(0, 32), 8), val(x.slice(32, 40), y.slice(32, 40), 4);
    Sequential<float> model({ToyDense<float>(1)}, {.input_shape = Shape{4}});
    model.compile(optimizers::SGD<float>({.learning_rate = 0.1}), losses::BinaryCrossentropy<float>({.from_logits = true}),
                  {"accuracy"});
    int batches = 0;
    callbacks::LambdaCallbackOptions f;
    f.on_batch_end = [&](index_t, model::Logs&) { ++batches; };
    const auto h = model.fit(train, {.epochs = 3, .verbose = 0, .validation_dataset = &val,
                                     .callbacks = {std::make_shared<callbacks::LambdaCallback<float>>(f)}, .steps_per_epoch = 3});
    CHECK(batches == 9);
    CHECK(train.epochs_ended == 3);
    CHECK(h.keys() == std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"});
    const model::Logs ev = model.evaluate(val, {.verbose = 0});
    CHECK(ev.at("loss") == Approx(h["val_loss"].back()).epsilon(1e-6));
    const Tensor<float> p = model.predict(val, {.verbose = 0});
    CHECK(p.shape() == Shape{8, 1});
    const Tensor<float> q = model.predict(x.slice(32, 40), {.batch_size = 3, .verbose = 0});
    CHECK(std::equal(p.begin(), p.end(), q.begin()));
    CHECK_THROWS_WITH(model.fit(train, {.verbose = 0, .validation_split = 0.2}), Catch::Contains("only supported for tensors"));
}

TEST_CASE("evaluate and predict print Keras' bar", "[sequential][progbar]") {
    auto [x, y] = blobs(8, 31);
    Sequential<float> model({ToyDense<float>(1)}, {.input_shape = Shape{4}});
    model.compile("sgd", losses::BinaryCrossentropy<float>({.from_logits = true}));
    auto t = std::make_shared<double>(0);
    auto clock = [t] { return *t += 0.5; };
    std::ostringstream out;
    model.predict(x, {.verbose = 1, .out = &out, .clock = clock});
    CHECK(out.str() == "1/1 [==============================] - 0s 500ms/step\n");
    out.str("");
    const auto ev = model.evaluate(x, y, {.batch_size = 4, .verbose = 1, .out = &out, .clock = clock});
    CHECK(out.str() == "2/2 [==============================] - 1s 500ms/step - loss: " + model::format_metric_value(ev.at("loss")) + "\n");
}

TEST_CASE("add() after an Input builds layer by layer", "[sequential]") {
    Sequential<float> model({}, {.input_shape = Shape{4}});
    CHECK_FALSE(model.built());
    model.add(ToyDense<float>(3));
    CHECK(model.built());
    model.add(std::make_shared<ToyDense<float>>(2));
    CHECK(model.output_shape() == Shape{2});
    CHECK(model.layers()[1]->input_shape() == Shape{3});
    CHECK_THROWS_WITH(model.predict(Tensor<float>(Shape{2, 5}), {.verbose = 0}), Catch::Contains("expected input of shape (None, 4)"));
}

TEST_CASE("Sequential runs Conv2D + MaxPooling2D fused, with the same numbers as layer by layer", "[sequential][fused]") {
    // An RGB first layer forced onto the implicit GEMM (fused with its pooling on every build: without AVX-512 its
    // products are plain loops), a Winograd layer with an odd output (its last row and column belong to no
    // window), a pooling that must stay on its own (3x3), and a pair at the end of a logits model.
    auto make = [](bool fusion) {
        Sequential<float> m({layers::Input({19, 18, 3}),
                             layers::Conv2D(16, 3, {.padding = "same", .activation = "relu"}),
                             layers::MaxPooling2D(), layers::Conv2D(16, 3, {.activation = "relu"}),
                             layers::MaxPooling2D(), layers::Conv2D(16, 1), layers::MaxPooling2D(3),
                             layers::Flatten(), layers::Dense(3)});
        dynamic_cast<layers::Conv2D<float>&>(*m.layers()[0]).set_algorithm(layers::ConvAlgorithm::implicit_gemm);
        m.compile(optimizers::Adam<float>(), losses::SparseCategoricalCrossentropy<float>({.from_logits = true}));
        m.set_layer_fusion(fusion);
        return m;
    };
    Sequential<float> fused = make(true), apart = make(false);
    CHECK(fused.layer_fusion());
    CHECK_FALSE(apart.layer_fusion());
    Generator g(3);
    Tensor<float> x(Shape{6, 19, 18, 3}), y(Shape{6});
    for (float& v : x) v = static_cast<float>(g.uniform(0, 1));
    for (float& v : y) v = static_cast<float>(g.below(3));
    for (int step = 0; step < 3; ++step)
        CHECK(fused.train_on_batch(x, y).at("loss") == apart.train_on_batch(x, y).at("loss"));
    auto conv = [](Sequential<float>& m, std::size_t i) -> layers::Conv2D<float>& {
        return dynamic_cast<layers::Conv2D<float>&>(*m.layers()[i]);
    };
    CHECK(conv(fused, 0).last_forward_fused());
    CHECK(conv(fused, 2).last_forward_fused());
    CHECK_FALSE(conv(fused, 4).last_forward_fused());  // a 3x3 pooling after it: not fused
    CHECK_FALSE(conv(apart, 0).last_forward_fused());
    const auto wf = fused.get_weights(), wa = apart.get_weights();
    REQUIRE(wf.size() == wa.size());
    for (std::size_t k = 0; k < wf.size(); ++k) {
        INFO("weight " << k);
        REQUIRE(wf[k].size() == wa[k].size());
        for (index_t i = 0; i < wf[k].size(); ++i) REQUIRE(wf[k][i] == wa[k][i]);
    }
    const Tensor<float> pf = fused.predict(x, {.verbose = 0}), pa = apart.predict(x, {.verbose = 0});
    for (index_t i = 0; i < pf.size(); ++i) REQUIRE(pf[i] == pa[i]);
}

namespace {
// Rescaling that counts the images it was given one at a time: shows whether Sequential ran it in a chain.
class CountingRescaling : public layers::Rescaling<float> {
public:
    using layers::Rescaling<float>::Rescaling;
    bool forward_image(index_t n, const float* in, float* out) const override {
        ++*images;
        return layers::Rescaling<float>::forward_image(n, in, out);
    }
    std::shared_ptr<std::atomic<long>> images = std::make_shared<std::atomic<long>>(0);
};
}  // namespace

TEST_CASE("Sequential runs image-wise layers image by image, with the same numbers as layer by layer",
          "[sequential][fused]") {
    // The flowers example's front (flip, rotation, zoom, Rescaling) on the images, and a second chain behind a
    // Conv2D, so backward runs through every layer of it, ending in a flip (which leaves some images as they
    // are). 2 threads: 5 images split unevenly, then 1 image
    // (fewer images than threads: layer by layer, each warp split by rows).
    struct Threads {  // back to the previous count however the test case ends
        int saved = num_threads();
        Threads() { set_num_threads(2); }
        ~Threads() { set_num_threads(saved); }
    } two_threads;
    auto make = [](bool fusion) {
        Sequential<float> m({layers::Input({21, 17, 3}), layers::RandomFlip(), layers::RandomRotation(0.2),
                             layers::RandomZoom(0.2, layers::FactorRange(-0.1, 0.3)), layers::Rescaling(1.0 / 255),
                             layers::Conv2D(4, 3, {.padding = "same"}), layers::RandomTranslation(0.1, 0.2),
                             CountingRescaling(0.5, 0.25), layers::RandomFlip("horizontal"), layers::Flatten(),
                             layers::Dense(3)},
                            {.name = "chains", .seed = 11});
        m.compile(optimizers::Adam<float>(), losses::SparseCategoricalCrossentropy<float>({.from_logits = true}));
        m.set_layer_fusion(fusion);
        return m;
    };
    auto images = [](Sequential<float>& m) { return dynamic_cast<CountingRescaling&>(*m.layers()[6]).images->load(); };
    Sequential<float> fused = make(true), apart = make(false);
    Generator g(5);
    for (const index_t batch : {5, 1}) {
        INFO("batch " << batch);
        Tensor<float> x(Shape{batch, 21, 17, 3}), y(Shape{batch});
        for (float& v : x) v = static_cast<float>(g.uniform(0, 255));
        for (float& v : y) v = static_cast<float>(g.below(3));
        const long before = images(fused);
        for (int step = 0; step < 3; ++step)
            REQUIRE(fused.train_on_batch(x, y).at("loss") == apart.train_on_batch(x, y).at("loss"));
        // image by image only when every thread gets an image; never when fusion is off
        CHECK(images(fused) - before == (batch >= 2 ? 3 * batch : 0));
        CHECK(images(apart) == 0);
        const auto wf = fused.get_weights(), wa = apart.get_weights();
        REQUIRE(wf.size() == wa.size());
        for (std::size_t k = 0; k < wf.size(); ++k) {
            INFO("weight " << k);
            for (index_t i = 0; i < wf[k].size(); ++i) REQUIRE(wf[k][i] == wa[k][i]);
        }
        // inference: the random layers pass through, the Rescaling layers still run
        const Tensor<float> pf = fused.predict(x, {.verbose = 0}), pa = apart.predict(x, {.verbose = 0});
        for (index_t i = 0; i < pf.size(); ++i) REQUIRE(pf[i] == pa[i]);
    }
    // A chain that passes the whole batch through at inference (no Rescaling in it) hands the batch on as it is.
    Sequential<float> pass({layers::Input({6, 5, 3}), layers::RandomFlip(), layers::RandomZoom(0.2), layers::Flatten()});
    Tensor<float> x(Shape{4, 6, 5, 3});
    for (float& v : x) v = static_cast<float>(g.uniform(-1, 1));
    const Tensor<float> out = pass.predict(x, {.verbose = 0});
    REQUIRE(out.size() == x.size());
    for (index_t i = 0; i < x.size(); ++i) REQUIRE(out[i] == x[i]);
}
