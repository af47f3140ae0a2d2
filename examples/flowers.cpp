// The TensorFlow "Image classification" tutorial (flowers): image_dataset_from_directory with a 0.2 validation
// split (seed 123, 180x180, batch 32), data augmentation (RandomFlip horizontal, RandomRotation 0.1,
// RandomZoom 0.1), Rescaling 1/255, three Conv2D + MaxPooling2D blocks, Dropout 0.2, Dense(128), Dense(5)
// logits, Adam, SparseCategoricalCrossentropy(from_logits), 15 epochs. Target: at least 0.70 validation
// accuracy. Then it classifies one image, in the tutorial's words.
//
//   ./flowers --epochs 15 --threads 2 --out flowers.lumen [--image some/flower.jpg]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>

#include "common.hpp"
#include "lumen/data/DirectoryDataset.hpp"
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
#include "lumen/model/callbacks/LambdaCallback.hpp"
#include "lumen/optimizers/Adam.hpp"
#include "lumen/viz/plot_history.hpp"

using namespace lumen;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    examples::Args defaults;
    defaults.epochs = 15;
    defaults.batch_size = 32;
    defaults.seed = 123;
    defaults.out = "flowers.lumen";
    const auto args = examples::parse_args(
        argc, argv, defaults, "The TensorFlow flowers tutorial: a small CNN on 5 kinds of flowers.",
        {{"image", "(a sunflower of the data set)", "the image to classify after training"},
         {"timing", "off", "on: print each epoch's training and validation time (issue 6's whole-epoch check)"}});
    return examples::run([&] {
        const fs::path dir = examples::find_data(
            args, "flower_photos",
            "Download it with scripts/download-datasets, or by hand from\n"
            "  https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz\n"
            "and pass the unpacked flower_photos folder with --data.");
        const auto start = std::chrono::steady_clock::now();
        data::ImageDatasetOptions o{.batch_size = args.batch_size,
                                    .image_size = {180, 180},
                                    .seed = std::uint32_t(args.seed),
                                    .validation_split = 0.2};
        auto [train_ds, val_ds] = data::image_dataset_from_directory_both<float>(dir, o);
        const auto& class_names = train_ds->class_names();
        std::cout << "class_names:";
        for (const auto& c : class_names) std::cout << " " << c;
        std::cout << "\n";

        Sequential model({.name = "flowers", .seed = args.seed});
        model.add(layers::Input({180, 180, 3}));
        model.add(layers::RandomFlip("horizontal"));
        model.add(layers::RandomRotation(0.1));
        model.add(layers::RandomZoom(0.1));
        model.add(layers::Rescaling(1.0 / 255));
        model.add(layers::Conv2D(16, 3, {.padding = "same", .activation = "relu"}));
        model.add(layers::MaxPooling2D());
        model.add(layers::Conv2D(32, 3, {.padding = "same", .activation = "relu"}));
        model.add(layers::MaxPooling2D());
        model.add(layers::Conv2D(64, 3, {.padding = "same", .activation = "relu"}));
        model.add(layers::MaxPooling2D());
        model.add(layers::Dropout(0.2));
        model.add(layers::Flatten());
        model.add(layers::Dense(128, {.activation = "relu"}));
        model.add(layers::Dense(index_t(class_names.size())));
        model.build(Shape{180, 180, 3});
        model.summary();
        model.compile(optimizers::Adam(), losses::SparseCategoricalCrossentropy({.from_logits = true}), {"accuracy"});

        // --timing on: each epoch split into its training part (epoch start to the end of its last batch: data,
        // augmentation layers and train steps) and the rest (the validation pass, plus the reshuffle for the next
        // epoch and the last progress-bar line, which are small).
        using Clock = std::chrono::steady_clock;
        Clock::time_point epoch_start, last_batch;
        index_t steps = 0;
        callbacks::LambdaCallback<> timing({
            .on_epoch_begin = [&](int, callbacks::Logs&) { epoch_start = Clock::now(), steps = 0; },
            .on_epoch_end =
                [&](int epoch, callbacks::Logs&) {
                    const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
                    std::printf("timing: epoch %d: training %.1f ms/step over %lld steps, then validation %.0f ms\n",
                                epoch + 1, ms(last_batch - epoch_start) / double(std::max<index_t>(steps, 1)),
                                static_cast<long long>(steps), ms(Clock::now() - last_batch));
                },
            .on_batch_end = [&](index_t, callbacks::Logs&) { last_batch = Clock::now(), ++steps; },
        });
        std::vector<std::shared_ptr<callbacks::Callback<float>>> cbs;
        if (args.extra.at("timing") == "on") cbs.push_back(std::make_shared<callbacks::LambdaCallback<>>(timing));
        auto history = model.fit(*train_ds, {.epochs = args.epochs,
                                             .validation_dataset = val_ds.get(),
                                             .callbacks = cbs,
                                             .steps_per_epoch = args.steps,
                                             .validation_steps = args.steps});
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("\nValidation accuracy: %.4f after %d epochs, %.0f s\n", history["val_accuracy"].back(),
                    args.epochs, seconds);

        model.save(args.out.string());
        const auto curves = examples::beside(args.out, "_curves.png");
        viz::plot_history(history, curves);
        viz::plot_history(history, examples::beside(args.out, "_curves.svg"));

        // Classify one image, as the tutorial does with its red sunflower.
        fs::path image = args.extra.at("image");
        if (image.string().front() == '(') {
            image.clear();
            for (const auto& e : fs::directory_iterator(dir / "sunflowers"))
                if (image.empty() || e.path() < image) image = e.path();
        }
        const auto img = data::load_img(image, {.target_size = {180, 180}});
        Tensor<float> x = data::img_to_array<float>(img).reshaped(Shape{1, 180, 180, 3});
        const Tensor<float> logits = model.predict(x, {.verbose = 0});
        std::vector<double> p(class_names.size());
        double m = -1e300, sum = 0;
        for (std::size_t j = 0; j < p.size(); ++j) m = std::max(m, double(logits.at(0, index_t(j))));
        for (std::size_t j = 0; j < p.size(); ++j) sum += p[j] = std::exp(double(logits.at(0, index_t(j))) - m);
        const auto best = std::size_t(std::max_element(p.begin(), p.end()) - p.begin());
        std::printf("\n%s:\nThis image most likely belongs to %s with a %.2f percent confidence.\n",
                    image.string().c_str(), class_names[best].c_str(), 100 * p[best] / sum);
        std::cout << "\nSaved the model to " << args.out.string() << " and the curves to " << curves.string()
                  << " (and .svg)\n";
        return 0;
    });
}
