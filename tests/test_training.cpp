// Training end to end: a whole-model gradient check in double for a small conv net with every loss (including
// the loss-from-logits path behind an Activation("sigmoid"/"softmax") layer and an L2 kernel_regularizer), and
// real learning: a small CNN on a 2-class subset of Fashion-MNIST must reach >= 95% test accuracy.
#include <catch2/catch.hpp>

#include <filesystem>

#include "lumen/data/idx.hpp"
#include "lumen/layers/Activation.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/losses/get.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/optimizers/Adam.hpp"
#include "lumen/optimizers/SGD.hpp"

using namespace lumen;

namespace {

struct LossCase {
    std::string what;
    losses::LossPtr<double> loss;
    index_t units;
    std::string head;       // activation fused into the last Dense
    std::string extra;      // an Activation layer after it ("" for none)
    std::string targets;    // "binary", "onehot", "sparse", "real"
};

Tensor<double> targets(const std::string& kind, index_t n, index_t units, Generator& g) {
    if (kind == "sparse") {
        Tensor<double> y(Shape{n});
        for (index_t i = 0; i < n; ++i) y[i] = double(i % units);
        return y;
    }
    Tensor<double> y(Shape{n, units});
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < units; ++j) {
            if (kind == "binary") y.at(i, j) = double((i + j) % 2);
            else if (kind == "onehot") y.at(i, j) = j == i % units ? 1.0 : 0.0;
            else y.at(i, j) = g.uniform(-1, 1);
        }
    return y;
}

}  // namespace

TEST_CASE("whole-model gradients match central differences for every loss (double)", "[training][gradcheck]") {
    using CCE = losses::CategoricalCrossentropy<double>;
    using BCE = losses::BinaryCrossentropy<double>;
    const std::vector<LossCase> cases{
        {"BCE from logits", std::make_shared<BCE>(losses::BinaryCrossentropyOptions{.from_logits = true}), 1, "linear", "", "binary"},
        {"BCE on a fused sigmoid", std::make_shared<BCE>(), 2, "sigmoid", "", "binary"},
        {"BCE behind Activation(sigmoid) (logits path)", std::make_shared<BCE>(), 1, "linear", "sigmoid", "binary"},
        {"CCE from logits, label smoothing", std::make_shared<CCE>(losses::CategoricalCrossentropyOptions{.from_logits = true, .label_smoothing = 0.1}), 3, "linear", "", "onehot"},
        {"CCE on a fused softmax", std::make_shared<CCE>(), 3, "softmax", "", "onehot"},
        {"CCE behind Activation(softmax) (logits path)", std::make_shared<CCE>(), 3, "linear", "softmax", "onehot"},
        {"sparse CCE from logits", std::make_shared<losses::SparseCategoricalCrossentropy<double>>(losses::SparseCategoricalCrossentropyOptions{.from_logits = true}), 3, "linear", "", "sparse"},
        {"sparse CCE behind Activation(softmax)", std::make_shared<losses::SparseCategoricalCrossentropy<double>>(), 3, "linear", "softmax", "sparse"},
        {"MSE", std::make_shared<losses::MeanSquaredError<double>>(), 2, "tanh", "", "real"},
    };
    for (const auto& lc : cases) {
        DYNAMIC_SECTION(lc.what) {
            Generator g(11);
            Sequential<double> model({layers::Input<double>({6, 6, 2}),
                                      layers::Conv2D<double>(3, 3, {.padding = "same", .activation = "tanh",
                                                                    .kernel_regularizer = regularizers::l2(0.01)}),
                                      layers::MaxPooling2D<double>(), layers::Flatten<double>(),
                                      layers::Dense<double>(lc.units, {.activation = lc.head})},
                                     {.seed = 5});
            if (!lc.extra.empty()) model.add(layers::Activation<double>(lc.extra));
            model.compile(optimizers::SGD<double>({.learning_rate = 0.0}), lc.loss);
            const index_t n = 4;
            Tensor<double> x(Shape{n, 6, 6, 2});
            for (auto& v : x) v = g.uniform(-1, 1);
            const Tensor<double> y = targets(lc.targets, n, lc.units, g);

            model.train_on_batch(x, y);  // lr 0: gradients computed, weights unchanged
            int failures = 0, checked = 0;
            for (Weight<double>* w : model.trainable_weights()) {
                for (index_t i = 0; i < w->value.size(); i += std::max<index_t>(1, w->value.size() / 25)) {
                    const double v = w->value[i], h = 1e-5;
                    w->value[i] = v + h;
                    const double lp = model.test_on_batch(x, y).at("loss");
                    w->value[i] = v - h;
                    const double lm = model.test_on_batch(x, y).at("loss");
                    w->value[i] = v;
                    const double numeric = (lp - lm) / (2 * h), analytic = w->grad[i];
                    ++checked;
                    if (std::abs(numeric - analytic) > 1e-7 + 1e-5 * std::abs(numeric)) {
                        if (failures++ < 5) UNSCOPED_INFO(w->name << "[" << i << "]: analytic " << analytic << " numeric " << numeric);
                    }
                }
            }
            INFO(lc.what << ": " << failures << " of " << checked << " gradient elements off");
            CHECK(checked > 50);
            CHECK(failures == 0);
        }
    }
}

TEST_CASE("a small CNN reaches >= 95% test accuracy on Sandal vs Sneaker (Fashion-MNIST)", "[training][learning]") {
    const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
    if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz") && !std::filesystem::exists(dir / "train-images-idx3-ubyte")) {
        WARN("SKIPPED: Fashion-MNIST is not installed in " << dir.string() << " (Debian package dataset-fashion-mnist)");
        return;
    }
    const auto fm = data::load_fashion_mnist<float>(dir);
    // Classes 5 (Sandal) -> 0 and 7 (Sneaker) -> 1: similar shoes, not a trivial pair.
    auto subset = [](const Tensor<float>& x, const Tensor<float>& y, index_t limit) {
        std::vector<index_t> keep;
        for (index_t i = 0; i < y.size() && index_t(keep.size()) < limit; ++i)
            if (y[i] == 5.f || y[i] == 7.f) keep.push_back(i);
        Tensor<float> xs(Shape{index_t(keep.size()), 28, 28, 1}), ys(Shape{index_t(keep.size()), 1});
        for (std::size_t k = 0; k < keep.size(); ++k) {
            std::copy(x.data() + keep[k] * 784, x.data() + (keep[k] + 1) * 784, xs.data() + index_t(k) * 784);
            ys[index_t(k)] = y[keep[k]] == 7.f ? 1.f : 0.f;
        }
        return std::make_pair(xs, ys);
    };
    const auto [x_train, y_train] = subset(fm.x_train, fm.y_train, 4000);
    const auto [x_test, y_test] = subset(fm.x_test, fm.y_test, 2000);

    Sequential<float> model({layers::Input<float>({28, 28, 1}), layers::Rescaling<float>(1.0 / 255),
                             layers::Conv2D<float>(8, 3, {.activation = "relu"}), layers::MaxPooling2D<float>(),
                             layers::Conv2D<float>(16, 3, {.activation = "relu"}), layers::MaxPooling2D<float>(),
                             layers::Flatten<float>(), layers::Dense<float>(1)},
                            {.seed = 1});
    model.compile(optimizers::Adam<float>({.learning_rate = 0.003}),
                  losses::BinaryCrossentropy<float>({.from_logits = true}), {"accuracy"});
    // Untrained, the model is at chance: the assertion below is not vacuous.
    const double before = model.evaluate(x_test, y_test, {.batch_size = 256, .verbose = 0}).at("accuracy");
    CHECK(before < 0.9);
    model.fit(x_train, y_train, {.batch_size = 32, .epochs = 4, .verbose = 0});
    const model::Logs after = model.evaluate(x_test, y_test, {.batch_size = 256, .verbose = 0});
    INFO("test accuracy before " << before << ", after " << after.at("accuracy") << ", loss " << after.at("loss"));
    CHECK(after.at("accuracy") >= 0.95);
}

TEST_CASE("same seed and thread count give identical losses; another seed other losses (conv net)", "[training][determinism]") {
    Generator g(3);
    Tensor<float> x(Shape{24, 8, 8, 1}), y(Shape{24});
    for (auto& v : x) v = float(g.uniform(0, 255));
    for (index_t i = 0; i < 24; ++i) y[i] = float(i % 3);
    const int saved = num_threads();
    auto run = [&](std::uint64_t seed, int threads) {
        set_num_threads(threads);
        // CTAD: a Sequential<float> from layers given by value and by shared_ptr
        auto head = std::make_shared<layers::Dense<float>>(3);
        Sequential model({layers::Input({8, 8, 1}), layers::Rescaling(1.0 / 255),
                          layers::Conv2D(4, 3, {.padding = "same", .activation = "relu"}), layers::MaxPooling2D(),
                          layers::Flatten(), head},
                         {.seed = seed});
        model.compile("adam", losses::SparseCategoricalCrossentropy({.from_logits = true}), {"accuracy"});
        return model.fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0})["loss"];
    };
    const auto a = run(1, 2), b = run(1, 2), c = run(2, 2), d = run(1, 1), e = run(1, 1);
    set_num_threads(saved);
    CHECK(a == b);
    CHECK(d == e);
    CHECK(a != c);
    CHECK(a.back() < a.front());
}
