// lumen — the command-line tool: train a CNN on a folder of photos (one sub-folder per class), evaluate it,
// classify images, print a model's summary.
//
//   lumen train photos/ --epochs 15 --out flowers.lumen
//   lumen evaluate flowers.lumen photos/            (last line: "accuracy: 0.xxxx")
//   lumen predict flowers.lumen rose.jpg --top 3
//   lumen summary flowers.lumen
//
// The class names are stored next to the model in MODEL.classes (one per line, in label order).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/threads.hpp"
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
#include "lumen/model/saving.hpp"
#include "lumen/optimizers/Adam.hpp"
#include "lumen/viz/confusion_matrix.hpp"
#include "lumen/viz/conv_filters.hpp"
#include "lumen/viz/plot_history.hpp"

using namespace lumen;
namespace fs = std::filesystem;

namespace {

// A usage error: the message names the flag or file; main prints it with the command's usage hint.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Flags "--name value" (or --name=value) and positional arguments of one sub-command.
struct Parsed {
    std::vector<std::string> positional;
    std::map<std::string, std::string> flags;
};

Parsed parse(const std::vector<std::string>& argv, const std::map<std::string, bool>& known /* name -> takes value */) {
    Parsed p;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0) {
            p.positional.push_back(a);
            continue;
        }
        std::string value;
        const auto eq = a.find('=');
        if (eq != std::string::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        const auto it = known.find(a.substr(2));
        if (it == known.end()) throw UsageError("unknown flag \"" + a + "\"");
        if (it->second && eq == std::string::npos) {
            if (i + 1 >= argv.size()) throw UsageError("flag " + a + " needs a value");
            value = argv[++i];
        }
        p.flags[a.substr(2)] = it->second ? value : "1";
    }
    return p;
}

long flag_int(const Parsed& p, const std::string& name, long def, long lo) {
    const auto it = p.flags.find(name);
    if (it == p.flags.end()) return def;
    char* end = nullptr;
    const long v = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end || v < lo)
        throw UsageError("flag --" + name + " needs an integer >= " + std::to_string(lo) + ", got \"" + it->second + "\"");
    return v;
}

double flag_double(const Parsed& p, const std::string& name, double def, double lo, double hi) {
    const auto it = p.flags.find(name);
    if (it == p.flags.end()) return def;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end || v < lo || v >= hi)
        throw UsageError("flag --" + name + " needs a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                         "), got \"" + it->second + "\"");
    return v;
}

std::string flag_str(const Parsed& p, const std::string& name, const std::string& def) {
    const auto it = p.flags.find(name);
    return it == p.flags.end() ? def : it->second;
}

void set_threads(const Parsed& p) {
    if (const long t = flag_int(p, "threads", 0, 1); t > 0) set_num_threads(int(t));
}

fs::path classes_file(const fs::path& model) { return fs::path(model.string() + ".classes"); }

std::vector<std::string> read_classes(const fs::path& model, index_t count) {
    std::vector<std::string> names;
    std::ifstream f(classes_file(model));
    for (std::string line; std::getline(f, line);)
        if (!line.empty()) names.push_back(line);
    if (index_t(names.size()) != count) {
        names.clear();
        for (index_t i = 0; i < count; ++i) names.push_back("class " + std::to_string(i));
    }
    return names;
}

void require_file(const fs::path& p, const std::string& what) {
    if (!fs::exists(p)) throw UsageError(what + " \"" + p.string() + "\" does not exist");
}

// Probabilities per class from the model's output row: softmax unless the row already is a distribution;
// a single output unit is P(class 1) (sigmoid applied unless it is already in [0, 1]).
std::vector<double> probabilities(const Tensor<float>& out, index_t row) {
    const index_t k = out.dim(1);
    if (k == 1) {
        double v = out.at(row, 0);
        if (v < 0 || v > 1) v = 1 / (1 + std::exp(-v));
        return {1 - v, v};
    }
    std::vector<double> p(static_cast<std::size_t>(k));
    double sum = 0, m = -1e300;
    bool distribution = true;
    for (index_t j = 0; j < k; ++j) {
        const double v = out.at(row, j);
        distribution = distribution && v >= 0 && v <= 1;
        sum += v;
        m = std::max(m, v);
    }
    if (distribution && std::abs(sum - 1) < 1e-3) {
        for (index_t j = 0; j < k; ++j) p[std::size_t(j)] = out.at(row, j);
        return p;
    }
    sum = 0;
    for (index_t j = 0; j < k; ++j) sum += p[std::size_t(j)] = std::exp(double(out.at(row, j)) - m);
    for (auto& v : p) v /= sum;
    return p;
}

// ------------------------------------------------------------------------------------------------ train
const char* kTrainHelp =
    "usage: lumen train DIR [flags]\n"
    "Trains a CNN on DIR, a folder with one sub-folder of images per class (like flower_photos/).\n\n"
    "  --model NAME            small (default: the flowers tutorial's Conv2D 16/32/64 model) or tiny (one conv)\n"
    "  --image-size N          images are resized to N x N (default 180)\n"
    "  --epochs N              (default 10)\n"
    "  --batch-size B          (default 32)\n"
    "  --validation-split F    fraction held out for validation (default 0.2)\n"
    "  --seed S                split, shuffle and weight seed (default 123)\n"
    "  --augment               RandomFlip horizontal, RandomRotation 0.1, RandomZoom 0.1 before the model\n"
    "  --steps N               at most N batches per epoch (a quick try)\n"
    "  --threads T             worker threads (default: all cores)\n"
    "  --out MODEL             the saved model (default model.lumen); also writes MODEL.classes and\n"
    "                          MODEL's stem + _curves.png/.svg\n";

int train(const std::vector<std::string>& argv) {
    const Parsed p = parse(argv, {{"model", true}, {"image-size", true}, {"epochs", true}, {"batch-size", true},
                                  {"validation-split", true}, {"seed", true}, {"augment", false}, {"steps", true},
                                  {"threads", true}, {"out", true}, {"help", false}});
    if (p.flags.count("help")) return std::cout << kTrainHelp, 0;
    if (p.positional.size() != 1) throw UsageError("train needs exactly one DIR, got " + std::to_string(p.positional.size()));
    const fs::path dir = p.positional[0];
    if (!fs::is_directory(dir)) throw UsageError("DIR \"" + dir.string() + "\" is not a folder");
    set_threads(p);
    const std::string preset = flag_str(p, "model", "small");
    if (preset != "small" && preset != "tiny") throw UsageError("flag --model: unknown model \"" + preset + "\"; use small or tiny");
    const index_t size = flag_int(p, "image-size", 180, 8);
    const auto seed = std::uint32_t(flag_int(p, "seed", 123, 0));
    const double split = flag_double(p, "validation-split", 0.2, 0.0, 1.0);
    const fs::path out = flag_str(p, "out", "model.lumen");

    data::ImageDatasetOptions o{.batch_size = flag_int(p, "batch-size", 32, 1), .image_size = {size, size}, .seed = seed};
    std::unique_ptr<data::DirectoryDataset<float>> train_ds, val_ds;
    if (split > 0) {
        o.validation_split = split;
        std::tie(train_ds, val_ds) = data::image_dataset_from_directory_both<float>(dir, o);
    } else {
        // DirectoryDataset is not movable: construct it in place from the returned prvalue.
        train_ds.reset(new data::DirectoryDataset<float>(data::image_dataset_from_directory<float>(dir, o)));
    }
    const auto classes = train_ds->class_names();
    const index_t k = index_t(classes.size());

    Sequential model({.name = "lumen_" + preset, .seed = seed});
    model.add(layers::Input({size, size, 3}));
    if (p.flags.count("augment")) {
        model.add(layers::RandomFlip("horizontal"));
        model.add(layers::RandomRotation(0.1));
        model.add(layers::RandomZoom(0.1));
    }
    model.add(layers::Rescaling(1.0 / 255));
    if (preset == "tiny") {
        model.add(layers::Conv2D(8, 3, {.activation = "relu"}));
        model.add(layers::MaxPooling2D(4));
    } else {
        for (index_t f : {16, 32, 64}) {
            model.add(layers::Conv2D(f, 3, {.padding = "same", .activation = "relu"}));
            model.add(layers::MaxPooling2D());
        }
        model.add(layers::Dropout(0.2));
    }
    model.add(layers::Flatten());
    if (preset != "tiny") model.add(layers::Dense(128, {.activation = "relu"}));
    model.add(layers::Dense(k));
    model.build(Shape{size, size, 3});
    model.summary();
    model.compile(optimizers::Adam(), losses::SparseCategoricalCrossentropy({.from_logits = true}), {"accuracy"});
    const index_t steps = flag_int(p, "steps", 0, 1);
    auto history = model.fit(*train_ds, {.epochs = int(flag_int(p, "epochs", 10, 1)),
                                         .validation_dataset = val_ds.get(),
                                         .steps_per_epoch = steps,
                                         .validation_steps = steps});
    model.save(out.string());
    std::ofstream cf(classes_file(out));
    for (const auto& c : classes) cf << c << "\n";
    fs::path curves = out;
    curves.replace_filename(out.stem().string() + "_curves.png");
    viz::plot_history(history, curves);
    viz::plot_history(history, curves.replace_extension(".svg"));
    std::cout << "Saved " << out.string() << " (classes in " << classes_file(out).string() << ", curves in "
              << curves.replace_extension(".png").string() << " and .svg)\n";
    return 0;
}

// ------------------------------------------------------------------------------------------------ evaluate
const char* kEvaluateHelp =
    "usage: lumen evaluate MODEL DIR [flags]\n"
    "Classifies every image of DIR (one sub-folder per class, in the model's class order) and prints per-class\n"
    "precision and recall, the confusion matrix, and last the line \"accuracy: 0.xxxx\".\n\n"
    "  --batch-size B       (default 32)\n"
    "  --confusion PNG      also draw the confusion matrix as a picture\n"
    "  --threads T          worker threads (default: all cores)\n";

int evaluate(const std::vector<std::string>& argv) {
    const Parsed p = parse(argv, {{"batch-size", true}, {"confusion", true}, {"threads", true}, {"help", false}});
    if (p.flags.count("help")) return std::cout << kEvaluateHelp, 0;
    if (p.positional.size() != 2) throw UsageError("evaluate needs MODEL and DIR");
    const fs::path model_path = p.positional[0], dir = p.positional[1];
    require_file(model_path, "MODEL");
    if (!fs::is_directory(dir)) throw UsageError("DIR \"" + dir.string() + "\" is not a folder");
    set_threads(p);
    auto model = load_model<float>(model_path.string());
    const Shape in = *model.input_shape();
    data::ImageDatasetOptions o{.batch_size = flag_int(p, "batch-size", 32, 1), .image_size = {in[0], in[1]},
                                .shuffle = false};
    auto ds = data::image_dataset_from_directory<float>(dir, o);
    const auto& classes = ds.class_names();
    const int k = int(classes.size());
    const index_t outputs = model.output_shape()[0];
    if (!(outputs == k || (outputs == 1 && k == 2)))
        throw UsageError("MODEL \"" + model_path.string() + "\" has " + std::to_string(outputs) +
                         " outputs but DIR \"" + dir.string() + "\" has " + std::to_string(k) + " classes");
    std::vector<int> truth, predicted;
    for (index_t b = 0; b < ds.num_batches(); ++b) {
        const auto batch = ds.batch(b);
        const Tensor<float> y = model.predict(batch.x, {.verbose = 0});
        for (index_t i = 0; i < y.dim(0); ++i) {
            const auto pr = probabilities(y, i);
            truth.push_back(int(batch.y[i]));
            predicted.push_back(int(std::max_element(pr.begin(), pr.end()) - pr.begin()));
        }
    }
    const auto cm = viz::confusion_counts(truth, predicted, k);
    std::size_t w = 9;
    for (const auto& c : classes) w = std::max(w, c.size());
    std::printf("%-*s  precision  recall  support\n", int(w), "class");
    long correct = 0;
    for (int c = 0; c < k; ++c) {
        long tp = cm[std::size_t(c)][std::size_t(c)], row = 0, col = 0;
        for (int j = 0; j < k; ++j) {
            row += cm[std::size_t(c)][std::size_t(j)];
            col += cm[std::size_t(j)][std::size_t(c)];
        }
        correct += tp;
        std::printf("%-*s  %9.4f  %6.4f  %7ld\n", int(w), classes[std::size_t(c)].c_str(),
                    col ? double(tp) / double(col) : 0.0, row ? double(tp) / double(row) : 0.0, row);
    }
    std::printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%-*s", int(w), "");
    for (int j = 0; j < k; ++j) std::printf(" %7d", j);
    std::printf("\n");
    for (int c = 0; c < k; ++c) {
        std::printf("%-*s", int(w), (std::to_string(c) + " " + classes[std::size_t(c)]).c_str());
        for (int j = 0; j < k; ++j) std::printf(" %7ld", cm[std::size_t(c)][std::size_t(j)]);
        std::printf("\n");
    }
    if (const auto png = flag_str(p, "confusion", ""); !png.empty()) viz::plot_confusion_matrix(cm, classes, png);
    std::printf("accuracy: %.4f\n", truth.empty() ? 0.0 : double(correct) / double(truth.size()));
    return 0;
}

// ------------------------------------------------------------------------------------------------ predict
const char* kPredictHelp =
    "usage: lumen predict MODEL IMAGE... [--top K]\n"
    "Prints one line per image: path, most likely class, confidence (with --top K, the K best).\n\n"
    "  --top K          (default 1)\n"
    "  --threads T      worker threads (default: all cores)\n";

int predict(const std::vector<std::string>& argv) {
    const Parsed p = parse(argv, {{"top", true}, {"threads", true}, {"help", false}});
    if (p.flags.count("help")) return std::cout << kPredictHelp, 0;
    if (p.positional.size() < 2) throw UsageError("predict needs MODEL and at least one IMAGE");
    const fs::path model_path = p.positional[0];
    require_file(model_path, "MODEL");
    set_threads(p);
    auto model = load_model<float>(model_path.string());
    const Shape in = *model.input_shape();
    const index_t outputs = model.output_shape()[0];
    const auto classes = read_classes(model_path, outputs == 1 ? 2 : outputs);
    const long top = std::min<long>(flag_int(p, "top", 1, 1), long(classes.size()));
    for (std::size_t i = 1; i < p.positional.size(); ++i) {
        const fs::path image = p.positional[i];
        require_file(image, "IMAGE");
        const auto img = data::load_img(image, {.color_mode = in[2] == 1 ? "grayscale" : "rgb",
                                                .target_size = {in[0], in[1]}, .interpolation = "bilinear"});
        const Tensor<float> y = model.predict(data::img_to_array<float>(img).reshaped(Shape{1, in[0], in[1], in[2]}),
                                              {.verbose = 0});
        const auto pr = probabilities(y, 0);
        std::vector<std::size_t> order(pr.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return pr[a] > pr[b]; });
        std::printf("%s", image.string().c_str());
        for (long t = 0; t < top; ++t)
            std::printf(" %s %.4f", classes[order[std::size_t(t)]].c_str(), pr[order[std::size_t(t)]]);
        std::printf("\n");
    }
    return 0;
}

// ------------------------------------------------------------------------------------------------ summary
const char* kSummaryHelp =
    "usage: lumen summary MODEL [flags]\n"
    "Prints the model's layers, output shapes and parameters.\n\n"
    "  --filters PNG        draw the first Conv2D layer's filters\n"
    "  --feature-maps PNG   draw the feature maps of every Conv2D layer for --image\n"
    "  --image IMAGE        the image whose feature maps are drawn\n";

int summary(const std::vector<std::string>& argv) {
    const Parsed p = parse(argv, {{"help", false}, {"filters", true}, {"feature-maps", true}, {"image", true}});
    if (p.flags.count("help")) return std::cout << kSummaryHelp, 0;
    if (p.positional.size() != 1) throw UsageError("summary needs exactly one MODEL");
    require_file(p.positional[0], "MODEL");
    auto model = load_model<float>(p.positional[0]);
    model.summary();
    if (const auto png = flag_str(p, "filters", ""); !png.empty()) {
        viz::plot_conv_filters(model, png);
        std::cout << "Wrote " << png << "\n";
    }
    if (const auto png = flag_str(p, "feature-maps", ""); !png.empty()) {
        const fs::path image = flag_str(p, "image", "");
        if (image.empty()) throw UsageError("flag --feature-maps needs --image IMAGE");
        require_file(image, "IMAGE");
        const Shape in = *model.input_shape();
        const auto img = data::load_img(image, {.color_mode = in[2] == 1 ? "grayscale" : "rgb",
                                                .target_size = {in[0], in[1]}, .interpolation = "bilinear"});
        viz::plot_feature_maps(model, data::img_to_array<float>(img).reshaped(Shape{1, in[0], in[1], in[2]}), png);
        std::cout << "Wrote " << png << "\n";
    }
    return 0;
}

const char* kHelp =
    "usage: lumen COMMAND [args]\n\n"
    "  train DIR              train a CNN on a folder of class sub-folders\n"
    "  evaluate MODEL DIR     precision, recall, confusion matrix and accuracy on a folder\n"
    "  predict MODEL IMAGE... classify images\n"
    "  summary MODEL          print a saved model's layers\n\n"
    "lumen COMMAND --help shows the flags of a command.\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cout << kHelp;
        return argc < 2 ? 2 : 0;
    }
    const std::string cmd = argv[1];
    const std::vector<std::string> rest(argv + 2, argv + argc);
    try {
        if (cmd == "train") return train(rest);
        if (cmd == "evaluate") return evaluate(rest);
        if (cmd == "predict") return predict(rest);
        if (cmd == "summary") return summary(rest);
        std::cerr << "lumen: unknown command \"" << cmd << "\"\n" << kHelp;
        return 2;
    } catch (const UsageError& e) {
        std::cerr << "lumen " << cmd << ": " << e.what() << " (see lumen " << cmd << " --help)\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "lumen " << cmd << ": error: " << e.what() << "\n";
        return 1;
    }
}
