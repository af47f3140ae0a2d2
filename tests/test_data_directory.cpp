// Folder datasets: Keras' listing, split, shuffle and label rules for flow_from_directory and
// image_dataset_from_directory, on generated folder trees with known file names.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "lumen/data/DirectoryDataset.hpp"
#include "lumen/data/ImageDataGenerator.hpp"
#include "lumen/data/image_utils.hpp"
#include "support/golden.hpp"

namespace fs = std::filesystem;
using namespace lumen;

namespace {
fs::path temp_dir(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("lumen_test_dir_" + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}
// A 4x4 grey PNG whose every pixel is `value`, so a batch reveals which file it came from.
void write_png(const fs::path& p, int value) {
    fs::create_directories(p.parent_path());
    data::Image img(4, 4, 3);
    std::fill(img.pixels.begin(), img.pixels.end(), std::uint8_t(value));
    data::save_img(p, img);
}
// Captures std::cout while alive.
struct CaptureCout {
    std::ostringstream text;
    std::streambuf* old;
    CaptureCout() : old(std::cout.rdbuf(text.rdbuf())) {}
    ~CaptureCout() { std::cout.rdbuf(old); }
};
// Folder tree: classes "b" (5 files), "a" (3 files + nested/ 1), ".hidden" (1), "Z" (2); plus junk files.
fs::path make_tree() {
    const fs::path d = temp_dir("tree");
    for (int i = 0; i < 5; ++i) write_png(d / "b" / ("b" + std::to_string(i) + ".png"), 10 + i);
    for (int i = 0; i < 3; ++i) write_png(d / "a" / ("a" + std::to_string(i) + ".PNG"), 20 + i);
    write_png(d / "a" / "nested" / "n0.png", 30);
    write_png(d / ".hidden" / "h.png", 40);
    write_png(d / "Z" / "z0.png", 50);
    write_png(d / "Z" / "z1.png", 51);
    std::ofstream(d / "a" / "notes.txt") << "not an image";
    std::ofstream(d / "readme.md") << "top-level files are not classes";
    return d;
}
}  // namespace

TEST_CASE("flow_from_directory lists classes and files in Keras' order", "[data][directory]") {
    const fs::path d = make_tree();
    data::ImageDataGenerator gen;
    CaptureCout out;
    auto it = gen.flow_from_directory(d, {.target_size = {4, 4}, .batch_size = 4, .shuffle = false});
    // Code-point order, dot-folders are classes too for flow_from_directory.
    CHECK(out.text.str() == "Found 12 images belonging to 4 classes.\n");
    CHECK(it.class_indices() == std::map<std::string, index_t>{{".hidden", 0}, {"Z", 1}, {"a", 2}, {"b", 3}});
    const std::vector<std::string> expected{".hidden/h.png", "Z/z0.png", "Z/z1.png", "a/a0.PNG", "a/a1.PNG",
                                            "a/a2.PNG",      "a/nested/n0.png", "b/b0.png", "b/b1.png", "b/b2.png",
                                            "b/b3.png",      "b/b4.png"};
    CHECK(it.filenames() == expected);
    CHECK(it.num_batches() == 3);
    const auto b0 = it.batch(0);
    CHECK(b0.x.shape() == Shape{4, 4, 4, 3});
    CHECK(b0.y.shape() == Shape{4, 4});
    CHECK(b0.x.at(1, 0, 0, 0) == 50.0f);  // Z/z0.png
    CHECK(b0.y.at(1, 1) == 1.0f);
    const auto b2 = it.batch(2);
    CHECK(b2.x.dim(0) == 4);
}

TEST_CASE("flow_from_directory splits each class by position", "[data][directory]") {
    const fs::path d = make_tree();
    data::ImageDataGenerator gen({.validation_split = 0.4});
    CaptureCout out;
    auto val = gen.flow_from_directory(d, {.target_size = {4, 4}, .class_mode = "sparse", .shuffle = false, .subset = "validation"});
    auto train = gen.flow_from_directory(d, {.target_size = {4, 4}, .class_mode = "sparse", .shuffle = false, .subset = "training"});
    // int(0.4 * n) first files per class: .hidden 1 -> 0, Z 2 -> 0, a 4 -> 1, b 5 -> 2.
    CHECK(val.filenames() == std::vector<std::string>{"a/a0.PNG", "b/b0.png", "b/b1.png"});
    CHECK(train.samples() == 9);
    CHECK(out.text.str() == "Found 3 images belonging to 4 classes.\nFound 9 images belonging to 4 classes.\n");
    const auto b = val.batch(0);
    CHECK(b.y.shape() == Shape{3});
    CHECK(b.y[0] == 2.0f);
    CHECK(b.y[2] == 3.0f);
}

TEST_CASE("flow_from_directory: class_mode, classes, bad arguments", "[data][directory]") {
    const fs::path d = make_tree();
    data::ImageDataGenerator gen;
    CaptureCout out;
    auto bin = gen.flow_from_directory(d, {.target_size = {2, 2}, .classes = {"b", "Z"}, .class_mode = "binary", .batch_size = 16, .shuffle = false});
    CHECK(bin.samples() == 7);
    auto bb = bin.batch(0);
    CHECK(bb.x.shape() == Shape{7, 2, 2, 3});
    CHECK(bb.y.shape() == Shape{7});
    CHECK(bb.y[0] == 0.0f);  // "b" is class 0 because `classes` fixes the order
    CHECK(bb.y[6] == 1.0f);
    auto in = gen.flow_from_directory(d, {.target_size = {2, 2}, .class_mode = "input", .batch_size = 2});
    auto ib = in.batch(0);
    CHECK(ib.y.shape() == ib.x.shape());
    auto none = gen.flow_from_directory(d, {.target_size = {2, 2}, .class_mode = "", .batch_size = 2});
    CHECK(none.batch(0).y.empty());
    CHECK_THROWS_WITH(gen.flow_from_directory(d, {.class_mode = "multi"}), Catch::Contains("class_mode"));
    CHECK_THROWS_WITH(gen.flow_from_directory(d, {.subset = "test"}), Catch::Contains("subset"));
    CHECK_THROWS_WITH(gen.flow_from_directory(d / "nope"), Catch::Contains("nope") && Catch::Contains("does not exist"));
}

TEST_CASE("flow_from_directory: same seed gives the same batches, whatever the worker count", "[data][directory]") {
    const fs::path d = make_tree();
    data::ImageDataGenerator gen({.rotation_range = 30, .width_shift_range = 0.2, .horizontal_flip = true});
    CaptureCout out;
    auto a = gen.flow_from_directory(d, {.target_size = {4, 4}, .batch_size = 5, .seed = 7, .workers = 0});
    auto b = gen.flow_from_directory(d, {.target_size = {4, 4}, .batch_size = 5, .seed = 7, .workers = 2});
    for (int epoch = 0; epoch < 3; ++epoch) {
        for (index_t i = 0; i < a.num_batches(); ++i) {
            const auto x = a.batch(i), y = b.batch(i);
            CHECK(std::equal(x.x.begin(), x.x.end(), y.x.begin()));
            CHECK(std::equal(x.y.begin(), x.y.end(), y.y.begin()));
        }
        a.on_epoch_end();
        b.on_epoch_end();
    }
    // Epochs differ (new permutation each epoch), and the last batch is short: 12 = 5 + 5 + 2.
    CHECK(a.index_array(0) != a.index_array(1));
    CHECK(a.batch(2).x.dim(0) == 2);
    // Keras' first permutation is numpy's permutation(n) after np.random.seed(seed).
    data::NumpyRandomState rng(7);
    CHECK(a.index_array(0) == rng.permutation(12));
}

TEST_CASE("image_dataset_from_directory: global shuffle with numpy's RandomState(seed), last fraction is validation",
          "[data][directory]") {
    const fs::path d = temp_dir("ids");
    // 10 files over 2 classes; sorted listing: c0/f0..f4 (values 0..4), c1/f5..f9 (values 5..9).
    for (int i = 0; i < 10; ++i) write_png(d / (i < 5 ? "c0" : "c1") / ("f" + std::to_string(i) + ".png"), i * 20);
    write_png(d / ".git" / "x.png", 255);  // dot-folders are skipped here
    std::ofstream(d / "c0" / "skip.ppm") << "P6 1 1 255\n...";  // .ppm is not in this API's list
    CaptureCout out;
    auto val = data::image_dataset_from_directory(d, {.batch_size = 4, .image_size = {4, 4}, .shuffle = true,
                                                      .seed = 42, .validation_split = 0.2, .subset = "validation"});
    auto train = data::image_dataset_from_directory(d, {.batch_size = 4, .image_size = {4, 4}, .seed = 42,
                                                        .validation_split = 0.2, .subset = "training"});
    CHECK(out.text.str() ==
          "Found 10 files belonging to 2 classes.\nUsing 2 files for validation.\n"
          "Found 10 files belonging to 2 classes.\nUsing 8 files for training.\n");
    // numpy: RandomState(42).permutation(10) = [8 1 5 0 7 2 9 4 3 6]; the last 2 entries are validation.
    REQUIRE(val.file_paths().size() == 2);
    CHECK(val.file_paths()[0] == d / "c0" / "f3.png");
    CHECK(val.file_paths()[1] == d / "c1" / "f6.png");
    CHECK(train.file_paths()[0] == d / "c1" / "f8.png");
    CHECK(train.labels() == std::vector<index_t>{1, 0, 1, 0, 1, 0, 1, 0});
    CHECK(train.class_names() == std::vector<std::string>{"c0", "c1"});
    CHECK(train.num_batches() == 2);
    // Labels match pixels in every batch (value/20 >= 5 <=> class 1), in every epoch.
    for (int epoch = 0; epoch < 2; ++epoch) {
        std::vector<float> seen;
        for (index_t i = 0; i < train.num_batches(); ++i) {
            const auto b = train.batch(i);
            CHECK(b.x.shape().without_batch() == Shape{4, 4, 3});
            for (index_t k = 0; k < b.x.dim(0); ++k) {
                const float v = b.x.at(k, 0, 0, 0);
                CHECK(b.y[k] == (v >= 100 ? 1.0f : 0.0f));
                seen.push_back(v);
            }
        }
        std::sort(seen.begin(), seen.end());
        CHECK(seen == std::vector<float>{0, 20, 40, 80, 100, 140, 160, 180});
        train.on_epoch_end();
    }
    CHECK(train.order(0) != train.order(1));
    auto both = data::image_dataset_from_directory_both(d, {.label_mode = "categorical", .image_size = {4, 4},
                                                            .seed = 42, .validation_split = 0.2});
    CHECK(both.first->num_samples() == 8);
    CHECK(both.second->num_samples() == 2);
    CHECK(both.second->batch(0).y.shape() == Shape{2, 2});
    auto bin = data::image_dataset_from_directory(d, {.label_mode = "binary", .image_size = {4, 4}, .shuffle = false});
    CHECK(bin.batch(0).y.shape() == Shape{10, 1});
    CHECK(bin.file_paths()[0] == d / "c0" / "f0.png");
}

TEST_CASE("image_dataset_from_directory argument checks", "[data][directory][errors]") {
    const fs::path d = temp_dir("ids_args");
    for (int i = 0; i < 3; ++i) write_png(d / ("c" + std::to_string(i)) / "f.png", i);
    CaptureCout out;
    CHECK_THROWS_WITH(data::image_dataset_from_directory(d, {.validation_split = 0.2, .subset = "training"}),
                      Catch::Contains("seed"));
    CHECK_THROWS_WITH(data::image_dataset_from_directory(d, {.validation_split = 0.2}), Catch::Contains("together"));
    CHECK_THROWS_WITH(data::image_dataset_from_directory(d, {.label_mode = "binary"}), Catch::Contains("exactly 2"));
    CHECK_THROWS_WITH(data::image_dataset_from_directory(d, {.label_mode = "sparse"}), Catch::Contains("label_mode"));
    CHECK_THROWS_WITH(data::image_dataset_from_directory(d, {.interpolation = "lanczos5"}), Catch::Contains("interpolation"));
    const fs::path empty = temp_dir("ids_empty");
    fs::create_directories(empty / "cls");
    CHECK_THROWS_WITH(data::image_dataset_from_directory(empty),
                      Catch::Contains("no images found") && Catch::Contains(empty.string()));
}

TEST_CASE("flowers: Keras' counts and steps for the tutorial split", "[data][directory][shared]") {
    const fs::path root = lumen::test::shared_dir() / "data" / "flower_photos";
    if (!fs::exists(root)) {
        WARN("SKIPPED: " << root << " is absent");
        return;
    }
    CaptureCout out;
    auto train = data::image_dataset_from_directory(root, {.batch_size = 32, .image_size = {180, 180}, .seed = 123,
                                                           .validation_split = 0.2, .subset = "training",
                                                           .cache_bytes = 0});
    CHECK(out.text.str() == "Found 3303 files belonging to 5 classes.\nUsing 2643 files for training.\n");
    CHECK(train.num_batches() == 83);
    CHECK(train.class_names() == std::vector<std::string>{"daisy", "dandelion", "roses", "sunflowers", "tulips"});
    const auto b = train.batch(0);
    CHECK(b.x.shape() == Shape{32, 180, 180, 3});
    CHECK(b.x.array().maxCoeff() <= 255.0f);
    CHECK(b.x.array().maxCoeff() > 100.0f);
}
