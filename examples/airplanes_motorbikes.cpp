// Caltech-101's airplanes vs motorbikes: image_dataset_from_directory (validation_split 0.2, seed 123,
// 150x150, label_mode binary), Rescaling 1/255, three Conv2D + MaxPooling2D blocks (32/64/128), Flatten,
// Dense(128) relu, Dropout(0.5), Dense(1) sigmoid; adam; binary_crossentropy. Target: at least 0.97
// validation accuracy.
//
//   ./airplanes_motorbikes --epochs 10 --threads 2
#include <chrono>
#include <cstdio>
#include <iostream>

#include "common.hpp"
#include "lumen/data/DirectoryDataset.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/viz/plot_history.hpp"

using namespace lumen;

int main(int argc, char** argv) {
    examples::Args defaults;
    defaults.epochs = 10;
    defaults.batch_size = 32;
    defaults.seed = 123;
    defaults.out = "airplanes_motorbikes.lumen";
    const auto args = examples::parse_args(argc, argv, defaults, "Caltech-101 airplanes vs motorbikes, binary.");
    return examples::run([&] {
        const auto dir = examples::find_data(
            args, "caltech_airplanes_motorbikes",
            "Download it with scripts/download-datasets, or take the airplanes and Motorbikes folders of\n"
            "Caltech-101 (https://data.caltech.edu/records/mzrjq-6wc02, caltech-101.zip) into one folder\n"
            "(motorbikes in lower case) and pass it with --data.");
        const auto start = std::chrono::steady_clock::now();
        auto [train_ds, val_ds] = data::image_dataset_from_directory_both<float>(
            dir, {.label_mode = "binary", .batch_size = args.batch_size, .image_size = {150, 150},
                  .seed = std::uint32_t(args.seed), .validation_split = 0.2});

        Sequential model({.name = "airplanes_motorbikes", .seed = args.seed});
        model.add(layers::Input({150, 150, 3}));
        model.add(layers::Rescaling(1.0 / 255));
        for (index_t f : {32, 64, 128}) {
            model.add(layers::Conv2D(f, 3, {.activation = "relu"}));
            model.add(layers::MaxPooling2D(2));
        }
        model.add(layers::Flatten());
        model.add(layers::Dense(128, {.activation = "relu"}));
        model.add(layers::Dropout(0.5));
        model.add(layers::Dense(1, {.activation = "sigmoid"}));
        model.build(Shape{150, 150, 3});
        model.summary();
        model.compile("adam", "binary_crossentropy", {"accuracy"});

        auto history = model.fit(*train_ds, {.epochs = args.epochs,
                                             .validation_dataset = val_ds.get(),
                                             .steps_per_epoch = args.steps,
                                             .validation_steps = args.steps});
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("\nValidation accuracy: %.4f after %d epochs, %.0f s\n", history["val_accuracy"].back(),
                    args.epochs, seconds);
        model.save(args.out.string());
        const auto curves = examples::beside(args.out, "_curves.png");
        viz::plot_history(history, curves);
        viz::plot_history(history, examples::beside(args.out, "_curves.svg"));
        std::cout << "Saved the model to " << args.out.string() << " and the curves to " << curves.string()
                  << " (and .svg)\n";
        return 0;
    });
}
