// Transfer learning in three steps, then the comparison that shows why.
//   1. Pretrain a convolutional base (three Conv2D + BatchNormalization + MaxPooling2D blocks at 96x96) on a
//      larger data set (default: flower_photos, 5 classes) and save it: model.save and save_weights.
//   2. Build a new model with the same base layers (same names), load_weights by layer name, freeze them
//      (trainable = false) and put a new head on top: Dropout + Dense with an L2 kernel_regularizer. Train the
//      head on a small subset of another data set (default: 100 images per class of cats_vs_dogs/train) with
//      SGD(momentum 0.9) and CategoricalCrossentropy(label_smoothing 0.1).
//   3. Unfreeze the conv layers (BatchNormalization stays frozen, in inference mode, as Keras advises),
//      compile again with a low learning rate and fine-tune.
// Finally the same architecture is trained from scratch on the same subset for as many epochs.
//
//   ./transfer_learning --pretrain-epochs 5 --epochs 10 --fine-tune-epochs 10 --threads 2
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "lumen/core/random.hpp"
#include "lumen/data/DirectoryDataset.hpp"
#include "lumen/data/directory.hpp"
#include "lumen/data/image_utils.hpp"
#include "lumen/layers/BatchNormalization.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/GlobalAveragePooling2D.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/losses/CategoricalCrossentropy.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/optimizers/Adam.hpp"
#include "lumen/optimizers/SGD.hpp"
#include "lumen/viz/plot_history.hpp"

using namespace lumen;
namespace fs = std::filesystem;

constexpr index_t kSize = 96;

// The convolutional base shared by every model here. Its layers carry fixed names because load_weights
// matches weights by layer name and weight name.
void add_base(Sequential<float>& m) {
    m.add(layers::Input({kSize, kSize, 3}));
    m.add(layers::Rescaling(1.0 / 255, 0, {.name = "rescaling"}));
    for (int b = 1; b <= 3; ++b) {
        const std::string p = "block" + std::to_string(b);
        m.add(layers::Conv2D(index_t(16) << b, 3, {.padding = "same", .activation = "relu", .name = p + "_conv"}));
        // momentum 0.9, not Keras' 0.99: with a few hundred steps the 0.99 moving averages still lag the
        // batch statistics so far that inference-mode accuracy stays near chance (measured: 0.27 vs 0.64).
        m.add(layers::BatchNormalization({.momentum = 0.9, .name = p + "_bn"}));
        m.add(layers::MaxPooling2D(2, {.name = p + "_pool"}));
    }
    m.add(layers::GlobalAveragePooling2D({.name = "avg_pool"}));  // (None, 128)
}

// The new head for the small data set: its names differ from the pretrained head's, so nothing is loaded into it.
void add_head(Sequential<float>& m, index_t classes) {
    m.add(layers::Dropout(0.5, {.name = "head_dropout"}));
    m.add(layers::Dense(classes, {.activation = "softmax", .kernel_regularizer = regularizers::l2(0.01),
                                  .name = "predictions"}));
}

// `per_class` training and up to `val_per_class` validation images of each class, drawn with the seed,
// as (N, 96, 96, 3) 0..255 and one-hot labels (N, K).
struct Subset {
    Tensor<float> x_train, y_train, x_val, y_val;
    std::vector<std::string> class_names;
};

Subset draw_subset(const fs::path& dir, long per_class, long val_per_class, std::uint64_t seed) {
    const auto listing = data::list_directory(dir, {}, data::flow_from_directory_extensions(), false, false,
                                              "transfer_learning");
    const auto K = index_t(listing.class_names.size());
    require(K >= 2, "transfer_learning: \"", dir.string(), "\" needs at least two class sub-folders");
    std::vector<std::pair<fs::path, index_t>> train, val;
    Generator rng(seed);
    for (index_t k = 0; k < K; ++k) {
        std::vector<fs::path> files;
        for (std::size_t i = 0; i < listing.filenames.size(); ++i)
            if (listing.labels[i] == k) files.push_back(dir / listing.filenames[i]);
        require(long(files.size()) > per_class, "transfer_learning: class \"", listing.class_names[std::size_t(k)],
                "\" has ", files.size(), " images; --per-class ", per_class, " leaves none for validation");
        rng.shuffle(files.begin(), files.end());
        for (std::size_t i = 0; i < files.size() && long(i) < per_class + val_per_class; ++i)
            (long(i) < per_class ? train : val).emplace_back(files[i], k);
    }
    auto load = [&](const std::vector<std::pair<fs::path, index_t>>& items, Tensor<float>& x, Tensor<float>& y) {
        x = Tensor<float>(Shape{index_t(items.size()), kSize, kSize, 3});
        y = Tensor<float>(Shape{index_t(items.size()), K});
        for (std::size_t i = 0; i < items.size(); ++i) {
            const auto img = data::load_img(items[i].first, {.target_size = {kSize, kSize}, .interpolation = "bilinear"});
            const auto a = data::img_to_array<float>(img);
            std::copy(a.begin(), a.end(), x.data() + index_t(i) * a.size());
            y.at(index_t(i), items[i].second) = 1;
        }
    };
    Subset s;
    s.class_names = listing.class_names;
    load(train, s.x_train, s.y_train);
    load(val, s.x_val, s.y_val);
    return s;
}

// Two fit() histories one after the other, as one set of curves.
model::History concat(const model::History& a, const model::History& b) {
    model::History all;
    for (const model::History* h : {&a, &b})
        for (std::size_t e = 0; e < h->epoch().size(); ++e) {
            model::Logs logs;
            for (const auto& k : h->keys()) logs.set(k, (*h)[k][e]);
            all.record(int(all.epoch().size()), logs);
        }
    return all;
}

int main(int argc, char** argv) {
    examples::Args defaults;
    defaults.epochs = 10;
    defaults.batch_size = 32;
    defaults.seed = 123;
    defaults.out = "transfer_learning.lumen";
    const auto args = examples::parse_args(
        argc, argv, defaults,
        "Transfer learning: pretrain a conv base on one data set, reuse it frozen on a small subset of another.\n"
        "--data is the small data set (class sub-folders); --epochs trains the new head.",
        {{"pretrain-data", "(flower_photos)", "the data set the base is pretrained on"},
         {"pretrain-epochs", "5", "epochs of pretraining"},
         {"pretrained", "(none)", "a saved base (weights file) to reuse instead of pretraining"},
         {"fine-tune-epochs", "(--epochs)", "epochs of fine-tuning after unfreezing"},
         {"fine-tune-lr", "0.0001", "learning rate of fine-tuning"},
         {"per-class", "100", "training images drawn per class of --data"},
         {"val-per-class", "200", "validation images drawn per class of --data (from the rest)"}});
    auto number = [&](const std::string& flag, double lo) {
        const std::string& v = args.extra.at(flag);
        char* end = nullptr;
        const double n = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(n >= lo)) {
            std::cerr << "transfer_learning: flag --" << flag << " needs a number >= " << lo << ", got \"" << v << "\"\n";
            std::exit(2);
        }
        return n;
    };
    const int pretrain_epochs = int(number("pretrain-epochs", 1));
    const int fine_tune_epochs = args.extra.at("fine-tune-epochs").front() == '(' ? args.epochs : int(number("fine-tune-epochs", 0));
    const double fine_tune_lr = number("fine-tune-lr", 0);
    const long per_class = long(number("per-class", 1)), val_per_class = long(number("val-per-class", 1));
    return examples::run([&] {
        const std::string download =
            "Download the data sets with scripts/download-datasets, or by hand from\n"
            "  https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz\n"
            "  https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip\n"
            "and pass cats_and_dogs_filtered/train with --data and flower_photos with --pretrain-data.";
        const fs::path target_dir = examples::find_data(args, "cats_vs_dogs/train", download);
        if (args.out.has_parent_path()) fs::create_directories(args.out.parent_path());
        const auto start = std::chrono::steady_clock::now();
        auto since = [](auto t0) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
        const FitOptions<float> quick{.steps_per_epoch = args.steps, .validation_steps = args.steps};

        // 1. Pretrain the base on the larger data set (or reuse a saved one).
        fs::path base_weights = args.extra.at("pretrained");
        double pretrain_acc = -1, pretrain_seconds = 0;
        if (base_weights.string().front() == '(') {
            examples::Args pa = args;
            pa.data = args.extra.at("pretrain-data").front() == '(' ? fs::path() : fs::path(args.extra.at("pretrain-data"));
            const fs::path pretrain_dir = examples::find_data(pa, "flower_photos", download);
            const auto t0 = std::chrono::steady_clock::now();
            auto [train_ds, val_ds] = data::image_dataset_from_directory_both<float>(
                pretrain_dir, {.label_mode = "categorical", .batch_size = args.batch_size, .image_size = {kSize, kSize},
                               .seed = std::uint32_t(args.seed), .validation_split = 0.2});
            Sequential base_model({.name = "pretrain", .seed = args.seed});
            add_base(base_model);
            base_model.add(layers::Dense(index_t(train_ds->class_names().size()),
                                         {.activation = "softmax", .name = "pretrain_predictions"}));
            base_model.summary();
            base_model.compile(optimizers::Adam(), "categorical_crossentropy", {"accuracy"});
            std::cout << "\n== 1. Pretraining the base on " << pretrain_dir.string() << "\n";
            FitOptions<float> fo = quick;
            fo.epochs = pretrain_epochs;
            fo.validation_dataset = val_ds.get();
            const auto h = base_model.fit(*train_ds, fo);
            pretrain_acc = h["val_accuracy"].back();
            pretrain_seconds = since(t0);
            base_model.save(examples::beside(args.out, "_base.lumen").string());
            base_weights = examples::beside(args.out, "_base.weights.lumen");
            base_model.save_weights(base_weights.string());
            viz::plot_history(h, examples::beside(args.out, "_base_curves.png"));
            std::printf("Pretrained base: validation accuracy %.4f after %d epochs, %.0f s; saved to %s\n",
                        pretrain_acc, pretrain_epochs, pretrain_seconds, base_weights.string().c_str());
        }

        // The small data set: per_class training images per class, validation from the rest.
        const Subset d = draw_subset(target_dir, per_class, val_per_class, args.seed);
        const auto K = index_t(d.class_names.size());
        std::printf("\nSmall data set %s: %lld training and %lld validation images, classes:", target_dir.string().c_str(),
                    (long long)d.x_train.dim(0), (long long)d.x_val.dim(0));
        for (const auto& c : d.class_names) std::printf(" %s", c.c_str());
        std::printf("\n");
        FitOptions<float> fo = quick;
        fo.batch_size = args.batch_size;
        fo.validation_data = std::pair{d.x_val, d.y_val};
        const losses::CategoricalCrossentropy smoothed({.label_smoothing = 0.1});

        // 2. The same base, loaded by layer name and frozen, under a new head.
        const auto t_transfer = std::chrono::steady_clock::now();
        Sequential model({.name = "transfer", .seed = args.seed});
        add_base(model);
        add_head(model, K);
        std::cout << "\nload_weights(\"" << base_weights.string() << "\"):\n" << model.load_weights(base_weights.string());
        for (const auto& layer : model.layers())
            if (layer->name().rfind("block", 0) == 0) layer->set_trainable(false);
        model.summary();  // the base's weights are now counted as non-trainable
        model.compile(optimizers::SGD({.learning_rate = 0.01, .momentum = 0.9}), smoothed, {"accuracy"});
        std::cout << "\n== 2. Training the new head (base frozen)\n";
        fo.epochs = args.epochs;
        const auto head = model.fit(d.x_train, d.y_train, fo);

        // 3. Unfreeze the conv layers and fine-tune at a low learning rate (compile again: the optimizer now
        // sees the newly trainable weights).
        model::History tuned;
        if (fine_tune_epochs > 0) {
            for (const auto& layer : model.layers())
                if (layer->class_name() == "Conv2D") layer->set_trainable(true);
            model.compile(optimizers::SGD({.learning_rate = fine_tune_lr, .momentum = 0.9}), smoothed, {"accuracy"});
            std::cout << "\n== 3. Fine-tuning the conv layers at learning rate " << fine_tune_lr << "\n";
            fo.initial_epoch = args.epochs;
            fo.epochs = args.epochs + fine_tune_epochs;
            tuned = model.fit(d.x_train, d.y_train, fo);
        }
        const double transfer_seconds = since(t_transfer);
        model.save(args.out.string());
        const model::History transfer = concat(head, tuned);
        viz::plot_history(transfer, examples::beside(args.out, "_curves.png"));

        // The same architecture from scratch: same subset, same optimizer and loss, as many epochs.
        std::cout << "\n== From scratch: the same architecture, nothing loaded, everything trainable\n";
        const auto t_scratch = std::chrono::steady_clock::now();
        Sequential scratch({.name = "scratch", .seed = args.seed});
        add_base(scratch);
        add_head(scratch, K);
        scratch.compile(optimizers::SGD({.learning_rate = 0.01, .momentum = 0.9}), smoothed, {"accuracy"});
        fo.initial_epoch = 0;
        fo.epochs = args.epochs + fine_tune_epochs;
        const auto from_scratch = scratch.fit(d.x_train, d.y_train, fo);
        const double scratch_seconds = since(t_scratch);
        viz::plot_history(from_scratch, examples::beside(args.out, "_scratch_curves.png"));

        std::printf("\n%-40s %14s %8s %8s\n", "", "val accuracy", "epochs", "time");
        if (pretrain_acc >= 0)
            std::printf("%-40s %14.4f %8d %7.0fs\n", "(pretraining on the large data set)", pretrain_acc,
                        pretrain_epochs, pretrain_seconds);
        std::printf("%-40s %14.4f %8d %7.0fs\n", "from scratch", from_scratch["val_accuracy"].back(),
                    args.epochs + fine_tune_epochs, scratch_seconds);
        std::printf("%-40s %14.4f %8d\n", "transfer: frozen base, new head", head["val_accuracy"].back(), args.epochs);
        if (fine_tune_epochs > 0)
            std::printf("%-40s %14.4f %8d %7.0fs\n", "transfer: after fine-tuning", tuned["val_accuracy"].back(),
                        args.epochs + fine_tune_epochs, transfer_seconds);
        std::printf("\n%.0f s in all. Saved the model to %s and the curves to %s, %s\n", since(start),
                    args.out.string().c_str(), examples::beside(args.out, "_curves.png").string().c_str(),
                    examples::beside(args.out, "_scratch_curves.png").string().c_str());
        return 0;
    });
}
