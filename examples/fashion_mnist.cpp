// Fashion-MNIST with a two-block CNN — Keras' "basic classification" data set with the CNN of the Keras
// examples. Reads Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist), trains with the
// progress bar, evaluates on the 10000 test images (target: at least 0.91 accuracy), saves the model, the
// training curves (PNG and SVG), the confusion matrix, and classifies a few test images.
//
//   ./fashion_mnist --epochs 10 --threads 2 --out fashion_mnist.lumen
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

#include "common.hpp"
#include "lumen/data/idx.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/losses/SparseCategoricalCrossentropy.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/optimizers/Adam.hpp"
#include "lumen/viz/confusion_matrix.hpp"
#include "lumen/viz/conv_filters.hpp"
#include "lumen/viz/image_grid.hpp"
#include "lumen/viz/plot_history.hpp"

using namespace lumen;

// Softmax of one row of logits, as probabilities.
static std::vector<double> softmax_row(const Tensor<float>& logits, index_t row) {
    const index_t k = logits.dim(1);
    std::vector<double> p(static_cast<std::size_t>(k));
    double m = -1e300, sum = 0;
    for (index_t j = 0; j < k; ++j) m = std::max(m, double(logits.at(row, j)));
    for (index_t j = 0; j < k; ++j) sum += p[std::size_t(j)] = std::exp(double(logits.at(row, j)) - m);
    for (auto& v : p) v /= sum;
    return p;
}

int main(int argc, char** argv) {
    examples::Args defaults;
    defaults.data = "/usr/share/datasets/fashion-mnist";
    defaults.epochs = 10;
    defaults.batch_size = 64;
    defaults.out = "fashion_mnist.lumen";
    const auto args = examples::parse_args(argc, argv, defaults,
                                           "Trains a two-block CNN on Fashion-MNIST and reports its test accuracy.");
    return examples::run([&] {
        if (!std::filesystem::is_directory(args.data)) {
            std::cerr << "error: Fashion-MNIST not found in \"" << args.data.string() << "\".\n"
                      << "Install Debian's package (sudo apt-get install dataset-fashion-mnist) or download the four\n"
                      << "*-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist (data/fashion) and\n"
                      << "pass their folder with --data.\n";
            return 1;
        }
        const auto start = std::chrono::steady_clock::now();
        const auto d = data::load_fashion_mnist<float>(args.data);
        const auto& names = data::fashion_mnist_class_names();
        std::cout << "x_train " << d.x_train.shape().to_string() << ", x_test " << d.x_test.shape().to_string()
                  << " from " << args.data.string() << "\n";

        Sequential model({layers::Input({28, 28, 1}),
                          layers::Rescaling(1.0 / 255),
                          layers::Conv2D(32, 3, {.activation = "relu"}),
                          layers::MaxPooling2D(2),
                          layers::Conv2D(64, 3, {.activation = "relu"}),
                          layers::MaxPooling2D(2),
                          layers::Flatten(),
                          layers::Dropout(0.3),
                          layers::Dense(128, {.activation = "relu"}),
                          layers::Dense(10)},
                         {.name = "fashion_mnist_cnn", .seed = args.seed});
        model.summary();
        model.compile(optimizers::Adam(), losses::SparseCategoricalCrossentropy({.from_logits = true}), {"accuracy"});

        auto history = model.fit(d.x_train, d.y_train,
                                 {.batch_size = args.batch_size,
                                  .epochs = args.epochs,
                                  .validation_split = 0.1,
                                  .steps_per_epoch = args.steps});
        const double train_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        std::cout << "\nEvaluating on the 10000 test images:\n";
        const auto logs = model.evaluate(d.x_test, d.y_test, {.batch_size = 256});
        std::printf("\nTest accuracy: %.4f  (loss %.4f) after %d epochs, %.0f s\n", logs.at("accuracy"),
                    logs.at("loss"), args.epochs, train_seconds);

        model.save(args.out.string());
        const auto curves = examples::beside(args.out, "_curves.png");
        viz::plot_history(history, curves);
        viz::plot_history(history, examples::beside(args.out, "_curves.svg"));

        // Confusion matrix over the test set.
        const Tensor<float> logits = model.predict(d.x_test, {.batch_size = 256, .verbose = 0});
        std::vector<int> truth, predicted;
        for (index_t i = 0; i < logits.dim(0); ++i) {
            const auto p = softmax_row(logits, i);
            truth.push_back(int(d.y_test[i]));
            predicted.push_back(int(std::max_element(p.begin(), p.end()) - p.begin()));
        }
        const std::vector<std::string> class_names(names.begin(), names.end());
        const auto cm = viz::confusion_counts(truth, predicted, int(class_names.size()));
        const auto cm_path = examples::beside(args.out, "_confusion.png");
        viz::plot_confusion_matrix(cm, class_names, cm_path);

        // A few test images with what the model sees in them.
        std::cout << "\nA few test images:\n";
        std::vector<data::Image> shown;
        std::vector<std::string> captions;
        for (index_t i = 0; i < 8; ++i) {
            const auto p = softmax_row(logits, i);
            const auto best = std::size_t(std::max_element(p.begin(), p.end()) - p.begin());
            std::printf("  test image %ld: %-11s with %5.2f%% confidence (truth: %s)\n", long(i), names[best],
                        100 * p[best], names[std::size_t(d.y_test[i])]);
            shown.push_back(data::array_to_img(d.x_test.slice(i, i + 1).reshaped(Shape{28, 28, 1}), false));
            captions.push_back(std::string(names[best]) + " " + std::to_string(int(std::lround(100 * p[best]))) + "%" +
                               (best == std::size_t(d.y_test[i]) ? "" : " (x)"));
        }
        const auto grid_path = examples::beside(args.out, "_predictions.png");
        viz::save_image_grid(shown, grid_path, {.columns = 4, .scale = 5, .captions = captions});

        // What the convolutions learned and what they see in the first test image.
        const auto filters_path = examples::beside(args.out, "_filters.png");
        viz::plot_conv_filters(model, filters_path);
        const auto maps_path = examples::beside(args.out, "_feature_maps.png");
        viz::plot_feature_maps(model, d.x_test.slice(0, 1), maps_path);
        std::cout << "Wrote " << filters_path.string() << " and " << maps_path.string() << "\n";

        std::cout << "\nSaved the model to " << args.out.string() << ", the curves to " << curves.string()
                  << " (and .svg), the confusion matrix to " << cm_path.string() << " and the examples to "
                  << grid_path.string() << "\n";
        return 0;
    });
}
