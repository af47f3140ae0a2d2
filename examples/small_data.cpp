// Image classification with very little data: 100 images per class (70 for training, 30 for validation),
// drawn with a fixed seed from a two-class folder (default: cats_vs_dogs/train), 64x64, two conv blocks.
// The same model (same seed, same initial weights) is trained twice: once on the plain images and once
// through an ImageDataGenerator with every augmentation of the small-data tutorial (rotation 15, shifts 0.2,
// shear 0.2, zoom 0.2, both flips, fill_mode reflect, brightness 0.5..1.5). Both runs standardise the same way
// (rescale 1/255, then featurewise centre and std from gen.fit on the training images), so augmentation is the
// only difference. Prints both validation accuracies side by side.
//
//   ./small_data --epochs 120 --threads 2 --out small_data.lumen
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "lumen/core/random.hpp"
#include "lumen/data/ImageDataGenerator.hpp"
#include "lumen/data/directory.hpp"
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
namespace fs = std::filesystem;

constexpr index_t kSize = 64;

// Images (N, 64, 64, 3) with values 0..255 and their labels (N,) as 0 / 1.
struct Images {
    Tensor<float> x, y;
    std::vector<fs::path> files;
};

Images load_images(const std::vector<std::pair<fs::path, int>>& items) {
    Images out{Tensor<float>(Shape{index_t(items.size()), kSize, kSize, 3}), Tensor<float>(Shape{index_t(items.size())}), {}};
    const index_t per = kSize * kSize * 3;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto a = data::img_to_array<float>(data::load_img(items[i].first, {.target_size = {kSize, kSize}}));
        std::copy(a.begin(), a.end(), out.x.data() + index_t(i) * per);
        out.y[index_t(i)] = float(items[i].second);
        out.files.push_back(items[i].first);
    }
    return out;
}

// The tutorial's small convnet: two conv blocks, a small dense layer, strong dropout.
void add_layers(Sequential<float>& model) {
    model.add(layers::Input({kSize, kSize, 3}));
    model.add(layers::Conv2D(32, 3, {.activation = "relu"}));
    model.add(layers::MaxPooling2D());
    model.add(layers::Conv2D(64, 3, {.activation = "relu"}));
    model.add(layers::MaxPooling2D());
    model.add(layers::Flatten());
    model.add(layers::Dense(64, {.activation = "relu"}));
    model.add(layers::Dropout(0.5));
    model.add(layers::Dense(1, {.activation = "sigmoid"}));
}

int main(int argc, char** argv) {
    examples::Args defaults;
    defaults.epochs = 120;
    defaults.batch_size = 16;
    defaults.seed = 123;
    defaults.out = "small_data.lumen";
    const auto args = examples::parse_args(
        argc, argv, defaults, "Very little data: 70 + 30 images per class, with and without augmentation.",
        {{"per-class", "100", "images drawn per class (70 % train, 30 % validation)"}});
    return examples::run([&] {
        const long per_class = std::atol(args.extra.at("per-class").c_str());
        require(per_class >= 4, "small_data: --per-class needs a number >= 4, got \"", args.extra.at("per-class"), "\"");
        const fs::path dir = examples::find_data(
            args, "cats_vs_dogs/train",
            "Download it with scripts/download-datasets, or by hand from\n"
            "  https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip\n"
            "and pass cats_and_dogs_filtered/train (or any folder with two class sub-folders) with --data.");
        if (args.out.has_parent_path()) fs::create_directories(args.out.parent_path());
        const auto start = std::chrono::steady_clock::now();

        // Draw per_class files of each of the first two classes with the seed: 70 % train, 30 % validation.
        const auto listing = data::list_directory(dir, {}, data::flow_from_directory_extensions(), false, false,
                                                  "small_data");
        require(listing.class_names.size() >= 2, "small_data: \"", dir.string(), "\" needs two class sub-folders");
        std::vector<std::pair<fs::path, int>> train_items, val_items;
        Generator rng(args.seed);
        for (int k = 0; k < 2; ++k) {
            std::vector<fs::path> files;
            for (std::size_t i = 0; i < listing.filenames.size(); ++i)
                if (listing.labels[i] == k) files.push_back(dir / listing.filenames[i]);
            require(long(files.size()) >= per_class, "small_data: class \"", listing.class_names[std::size_t(k)],
                    "\" has ", files.size(), " images, fewer than --per-class ", per_class);
            rng.shuffle(files.begin(), files.end());
            const long n_train = per_class * 7 / 10;
            for (long i = 0; i < per_class; ++i) (i < n_train ? train_items : val_items).emplace_back(files[std::size_t(i)], k);
        }
        const Images train = load_images(train_items), val = load_images(val_items);
        std::printf("classes: %s=0 %s=1; %zu training and %zu validation images at %lldx%lld\n",
                    listing.class_names[0].c_str(), listing.class_names[1].c_str(), train_items.size(),
                    val_items.size(), (long long)kSize, (long long)kSize);

        // Plain: standardisation only. Augmented: the same standardisation after every random transform.
        data::ImageDataGeneratorOptions<float> plain_options{.featurewise_center = true,
                                                             .featurewise_std_normalization = true,
                                                             .rescale = 1.0 / 255};
        data::ImageDataGeneratorOptions<float> aug = plain_options;
        aug.rotation_range = 15;
        aug.width_shift_range = 0.2;
        aug.height_shift_range = 0.2;
        aug.shear_range = 0.2;
        aug.zoom_range = 0.2;
        aug.horizontal_flip = true;
        aug.vertical_flip = true;
        aug.fill_mode = "reflect";
        aug.brightness_range = {{0.5, 1.5}};
        data::ImageDataGenerator<float> plain_gen(plain_options), aug_gen(aug);
        plain_gen.fit(train.x);  // per-channel mean and std of the training images (after rescale)
        aug_gen.fit(train.x);
        std::printf("featurewise mean (R, G, B): %.3f %.3f %.3f, std: %.3f %.3f %.3f\n", plain_gen.mean()[0],
                    plain_gen.mean()[1], plain_gen.mean()[2], plain_gen.std()[0], plain_gen.std()[1], plain_gen.std()[2]);

        // What the augmentation does: the first training image and eleven random transforms of it.
        {
            const Tensor<float> first = train.x.slice(0, 1).reshaped(Shape{kSize, kSize, 3});
            std::vector<data::Image> shown{data::array_to_img(first, false)};
            std::vector<std::string> captions{"original"};
            for (std::uint32_t s = 0; s < 11; ++s) {
                shown.push_back(data::array_to_img(aug_gen.random_transform(first, s), false));
                captions.push_back("seed " + std::to_string(s));
            }
            const auto path = examples::beside(args.out, "_augmented.png");
            viz::save_image_grid(shown, path, {.columns = 4, .scale = 3, .captions = captions, .title = "Augmented versions of one image"});
            std::cout << "Wrote " << path.string() << " (augmented versions of " << train.files[0].string() << ")\n";
        }

        // Validation batches: never augmented, standardised with the training statistics.
        const data::FlowOptions val_flow{.batch_size = args.batch_size, .shuffle = false};
        const data::FlowOptions train_flow{.batch_size = args.batch_size, .seed = std::uint32_t(args.seed)};
        struct Run {
            model::History history;
            double seconds;
        };
        auto run = [&](const data::ImageDataGenerator<float>& gen, Sequential<float>& model) {
            const auto t0 = std::chrono::steady_clock::now();
            model.compile("adam", "binary_crossentropy", {"accuracy"});
            auto train_it = gen.flow(train.x, train.y, train_flow);
            auto val_it = plain_gen.flow(val.x, val.y, val_flow);
            auto h = model.fit(train_it, {.epochs = args.epochs,
                                          .validation_dataset = &val_it,
                                          .steps_per_epoch = args.steps,
                                          .validation_steps = args.steps});
            return Run{h, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
        };

        Sequential plain_model({.name = "small_data_plain", .seed = args.seed});
        add_layers(plain_model);
        plain_model.summary();
        std::cout << "\n== Without augmentation\n";
        const Run plain = run(plain_gen, plain_model);
        std::cout << "\n== With augmentation (same model, same initial weights)\n";
        Sequential model({.name = "small_data", .seed = args.seed});
        add_layers(model);
        const Run augmented = run(aug_gen, model);

        // Side by side. With 60 validation images one image is 0.017, so the last epochs' mean is shown too.
        auto mean_last = [](const std::vector<double>& v, std::size_t n) {
            n = std::min(n, v.size());
            double s = 0;
            for (std::size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
            return s / double(n);
        };
        const auto& pa = plain.history["val_accuracy"];
        const auto& aa = augmented.history["val_accuracy"];
        std::printf("\n%-34s %22s %18s\n", "", "without augmentation", "with augmentation");
        std::printf("%-34s %22.4f %18.4f\n", "validation accuracy, last epoch", pa.back(), aa.back());
        std::printf("%-34s %22.4f %18.4f\n", "validation accuracy, last 10 mean", mean_last(pa, 10), mean_last(aa, 10));
        std::printf("%-34s %22.4f %18.4f\n", "validation accuracy, best epoch", *std::max_element(pa.begin(), pa.end()),
                    *std::max_element(aa.begin(), aa.end()));
        std::printf("%-34s %22.4f %18.4f\n", "training accuracy, last epoch", plain.history["accuracy"].back(),
                    augmented.history["accuracy"].back());
        std::printf("%-34s %22.0f %18.0f\n", "training time (s)", plain.seconds, augmented.seconds);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("\n%d epochs each, %.0f s in all\n", args.epochs, seconds);

        model.save(args.out.string());
        const auto curves = examples::beside(args.out, "_curves.png");
        const auto plain_curves = examples::beside(args.out, "_no_augmentation_curves.png");
        viz::plot_history(augmented.history, curves);
        viz::plot_history(plain.history, plain_curves);
        std::cout << "Saved the augmented model to " << args.out.string() << ", its curves to " << curves.string()
                  << " and the curves without augmentation to " << plain_curves.string() << "\n";
        return 0;
    });
}
