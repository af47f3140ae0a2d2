// Cats vs dogs, two ways, both fed by ImageDataGenerator::flow_from_directory (binary labels):
//   classic (default): the widely copied first Keras CNN — 256x256x3, Conv2D(32, 3) relu, MaxPooling2D,
//     Flatten, Dense(128) relu, Dense(1) sigmoid; adam; binary_crossentropy; generator with rescale 1/255,
//     shear 0.2, zoom 0.2, horizontal_flip.
//   --model tutorial: Google's "cats_and_dogs_filtered" tutorial — 150x150, Conv2D 16/32/64 blocks, Flatten,
//     Dense(512) relu, Dropout(0.5), Dense(1) sigmoid; RMSprop; stronger augmentation (rotation 40, shifts 0.2,
//     shear 0.2, zoom 0.2, horizontal flip). Target: at least 0.75 validation accuracy.
//
//   ./cats_vs_dogs --model tutorial --epochs 30 --batch-size 20 --threads 2
#include <chrono>
#include <cstdio>
#include <iostream>

#include "common.hpp"
#include "lumen/data/DirectoryIterator.hpp"
#include "lumen/data/ImageDataGenerator.hpp"
#include "lumen/data/image_utils.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/viz/image_grid.hpp"
#include "lumen/viz/plot_history.hpp"

using namespace lumen;

int main(int argc, char** argv) {
    examples::Args defaults;
    defaults.epochs = 15;
    defaults.batch_size = 32;
    defaults.seed = 123;
    defaults.out = "cats_vs_dogs.lumen";
    const auto args = examples::parse_args(argc, argv, defaults, "Cats vs dogs with ImageDataGenerator.",
                                           {{"model", "classic", "classic or tutorial"}});
    const std::string variant = args.extra.at("model");
    if (variant != "classic" && variant != "tutorial") {
        std::cerr << "cats_vs_dogs: flag --model must be classic or tutorial, got \"" << variant << "\"\n";
        return 2;
    }
    return examples::run([&] {
        const auto dir = examples::find_data(
            args, "cats_vs_dogs",
            "Download it with scripts/download-datasets, or by hand from\n"
            "  https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip\n"
            "and pass the folder holding train/ and validation/ with --data.");
        const bool tutorial = variant == "tutorial";
        const index_t size = tutorial ? 150 : 256;
        const auto start = std::chrono::steady_clock::now();

        data::ImageDataGeneratorOptions<float> aug{.rescale = 1.0 / 255};
        aug.shear_range = 0.2;
        aug.zoom_range = 0.2;
        aug.horizontal_flip = true;
        if (tutorial) {
            aug.rotation_range = 40;
            aug.width_shift_range = 0.2;
            aug.height_shift_range = 0.2;
        }
        const data::ImageDataGenerator<float> train_gen(aug), val_gen({.rescale = 1.0 / 255});
        const data::FlowFromDirectoryOptions flow{.target_size = {size, size},
                                                  .class_mode = "binary",
                                                  .batch_size = args.batch_size,
                                                  .seed = std::uint32_t(args.seed)};
        auto train = train_gen.flow_from_directory(dir / "train", flow);
        auto val_flow = flow;
        val_flow.shuffle = false;
        auto validation = val_gen.flow_from_directory(dir / "validation", val_flow);
        std::cout << "class_indices:";
        for (const auto& [name, index] : train.class_indices()) std::cout << " " << name << "=" << index;
        std::cout << "\n";

        // What the augmentation does: the first training image and eight random transforms of it.
        {
            const auto first = *train.filepaths().begin();
            const auto x = data::img_to_array<float>(data::load_img(first, {.target_size = {size, size}}));
            std::vector<data::Image> shown{data::array_to_img(x, false)};
            for (std::uint32_t s = 0; s < 8; ++s) shown.push_back(data::array_to_img(train_gen.random_transform(x, s), false));
            const auto path = examples::beside(args.out, "_augmented.png");
            viz::save_image_grid(shown, path, {.columns = 3, .title = "Augmented versions of one image"});
            std::cout << "Wrote " << path.string() << " (augmented versions of " << first.string() << ")\n";
        }

        Sequential model({.name = "cats_vs_dogs_" + variant, .seed = args.seed});
        model.add(layers::Input({size, size, 3}));
        if (tutorial) {
            for (index_t f : {16, 32, 64}) {
                model.add(layers::Conv2D(f, 3, {.activation = "relu"}));
                model.add(layers::MaxPooling2D(2));
            }
            model.add(layers::Flatten());
            model.add(layers::Dense(512, {.activation = "relu"}));
            model.add(layers::Dropout(0.5));
        } else {
            model.add(layers::Conv2D(32, 3, {.activation = "relu"}));
            model.add(layers::MaxPooling2D(2));
            model.add(layers::Flatten());
            model.add(layers::Dense(128, {.activation = "relu"}));
        }
        model.add(layers::Dense(1, {.activation = "sigmoid"}));
        model.build(Shape{size, size, 3});
        model.summary();
        model.compile(tutorial ? "rmsprop" : "adam", "binary_crossentropy", {"accuracy"});

        auto history = model.fit(train, {.epochs = args.epochs,
                                         .validation_dataset = &validation,
                                         .steps_per_epoch = args.steps,
                                         .validation_steps = args.steps});
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("\nValidation accuracy (%s): %.4f after %d epochs, %.0f s\n", variant.c_str(),
                    history["val_accuracy"].back(), args.epochs, seconds);
        model.save(args.out.string());
        const auto curves = examples::beside(args.out, "_curves.png");
        viz::plot_history(history, curves);
        viz::plot_history(history, examples::beside(args.out, "_curves.svg"));
        std::cout << "Saved the model to " << args.out.string() << " and the curves to " << curves.string()
                  << " (and .svg)\n";
        return 0;
    });
}
