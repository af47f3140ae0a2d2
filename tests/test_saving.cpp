// Saving: the model file round trip (bit-identical predictions, optimizer state), resume == uninterrupted,
// atomic writes (a killed save leaves the previous file loadable), hostile files (truncated, wrong magic or
// version, absurd sizes, architecture/weights mismatch) and load_weights by layer name.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "lumen/layers/BatchNormalization.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/RandomBrightness.hpp"
#include "lumen/layers/RandomContrast.hpp"
#include "lumen/layers/RandomFlip.hpp"
#include "lumen/layers/RandomRotation.hpp"
#include "lumen/layers/RandomTranslation.hpp"
#include "lumen/layers/RandomZoom.hpp"
#include "lumen/layers/Resizing.hpp"
#include "lumen/model/saving.hpp"
#include "lumen/optimizers/Adam.hpp"

using namespace lumen;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
    const fs::path d = fs::temp_directory_path() / ("lumen_test_saving_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

Sequential<float> small_cnn(std::uint64_t seed = 3, index_t classes = 3) {
    Sequential<float> m({layers::Input<float>({8, 8, 2}), layers::Conv2D<float>(4, 3, {.padding = "same", .activation = "relu"}),
                         layers::BatchNormalization<float>(), layers::MaxPooling2D<float>(), layers::Flatten<float>(),
                         layers::Dense<float>(classes, {.kernel_regularizer = regularizers::l2(1e-3)})},
                        {.seed = seed});
    return m;
}

std::pair<Tensor<float>, Tensor<float>> toy_data(index_t n) {
    Generator g(17);
    Tensor<float> x(Shape{n, 8, 8, 2}), y(Shape{n});
    for (index_t i = 0; i < n; ++i) {
        const int label = static_cast<int>(i % 3);
        y[i] = float(label);
        for (index_t j = 0; j < 128; ++j) x[i * 128 + j] = float(g.normal(0.3 * label * ((j % 3) == label), 1.0));
    }
    return {x, y};
}

std::vector<unsigned char> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("save / load_model round trip predicts bit-identically and keeps the optimizer", "[saving]") {
    const fs::path dir = temp_dir();
    auto [x, y] = toy_data(48);
    Sequential<float> model = small_cnn();
    model.compile(optimizers::Adam<float>({.learning_rate = 0.01}),
                  losses::SparseCategoricalCrossentropy<float>({.from_logits = true}), {"accuracy"});
    model.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    const std::string path = (dir / "model.lumen").string();
    model.save(path);
    CHECK_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));

    Sequential<float> loaded = load_model<float>(path);
    REQUIRE(loaded.compiled());
    CHECK(loaded.optimizer()->name() == "Adam");
    CHECK(loaded.optimizer()->iterations() == model.optimizer()->iterations());
    CHECK(loaded.optimizer()->current_learning_rate() == Approx(0.01));
    CHECK(loaded.loss()->class_name() == "SparseCategoricalCrossentropy");
    CHECK(loaded.loss()->from_logits());
    CHECK(loaded.metrics_names() == model.metrics_names());
    REQUIRE(loaded.layers().size() == model.layers().size());
    for (std::size_t i = 0; i < model.layers().size(); ++i) {
        CHECK(loaded.layers()[i]->name() == model.layers()[i]->name());
        CHECK(loaded.layers()[i]->class_name() == model.layers()[i]->class_name());
    }
    const Tensor<float> a = model.predict(x, {.verbose = 0}), b = loaded.predict(x, {.verbose = 0});
    REQUIRE(a.shape() == b.shape());
    CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0);
    CHECK(loaded.summary(nullptr) == model.summary(nullptr));
    // frozen flags survive
    model.get_layer("dense")->set_trainable(false);
    model.save(path, false);
    Sequential<float> frozen = load_model<float>(path);
    CHECK_FALSE(frozen.get_layer("dense")->trainable());
    CHECK_FALSE(frozen.compiled());  // saved without the optimizer: not compiled, as Keras
    fs::remove_all(dir);
}

TEST_CASE("training resumed from a checkpoint gives the same losses as an uninterrupted run", "[saving][resume]") {
    const fs::path dir = temp_dir();
    auto [x, y] = toy_data(48);
    auto compile = [](Sequential<float>& m) {
        m.compile(optimizers::Adam<float>({.learning_rate = 0.01}),
                  losses::SparseCategoricalCrossentropy<float>({.from_logits = true}), {"accuracy"});
    };
    Sequential<float> whole = small_cnn();
    compile(whole);
    const auto full = whole.fit(x, y, {.batch_size = 16, .epochs = 4, .verbose = 0});

    Sequential<float> first = small_cnn();
    compile(first);
    first.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    const std::string path = (dir / "ckpt.lumen").string();
    first.save(path);
    Sequential<float> resumed = load_model<float>(path);
    const auto rest = resumed.fit(x, y, {.batch_size = 16, .epochs = 4, .verbose = 0, .initial_epoch = 2});
    REQUIRE(rest["loss"].size() == 2);
    CHECK(rest.epoch() == std::vector<int>{2, 3});
    CHECK(rest["loss"][0] == full["loss"][2]);
    CHECK(rest["loss"][1] == full["loss"][3]);
    CHECK(rest["accuracy"][1] == full["accuracy"][3]);
    fs::remove_all(dir);
}

TEST_CASE("a model saved after compile() but before any step loads and trains like the original", "[saving][resume]") {
    // Regression (found by the crash-safety kill test): the optimizer has no slots before its first step, and
    // load_model refused such a file ("the optimizer state holds 0 slots but Adam has 12").
    const fs::path dir = temp_dir();
    auto [x, y] = toy_data(32);
    Sequential<float> m = small_cnn();
    m.compile(optimizers::Adam<float>({.learning_rate = 0.01}),
              losses::SparseCategoricalCrossentropy<float>({.from_logits = true}));
    const std::string path = (dir / "fresh.lumen").string();
    m.save(path);
    Sequential<float> loaded = load_model<float>(path);
    REQUIRE(loaded.compiled());
    CHECK(loaded.optimizer()->iterations() == 0);
    const auto a = m.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    const auto b = loaded.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    CHECK(a["loss"] == b["loss"]);
    fs::remove_all(dir);
}

TEST_CASE("augmentation layers are saved with the model and are the identity at inference", "[saving][augment]") {
    const fs::path dir = temp_dir();
    Sequential<float> m({layers::Input<float>({12, 10, 3}), layers::Resizing<float>(8, 8),
                         layers::RandomFlip<float>("horizontal"), layers::RandomRotation<float>(0.1),
                         layers::RandomZoom<float>(0.2, {{-0.1, 0.3}}), layers::RandomTranslation<float>(0.1, 0.2),
                         layers::RandomContrast<float>(0.3), layers::RandomBrightness<float>(0.2),
                         layers::Flatten<float>(), layers::Dense<float>(2)},
                        {.seed = 5});
    Generator g(3);
    Tensor<float> x(Shape{2, 12, 10, 3});
    for (auto& v : x) v = float(g.uniform(0, 255));
    const Tensor<float> before = m.predict(x, {.verbose = 0});
    const std::string path = (dir / "augment.lumen").string();
    m.save(path);
    Sequential<float> loaded = load_model<float>(path);
    REQUIRE(loaded.layers().size() == m.layers().size());
    for (std::size_t i = 0; i < m.layers().size(); ++i) {
        CHECK(loaded.layers()[i]->class_name() == m.layers()[i]->class_name());
        CHECK(loaded.layers()[i]->get_config() == m.layers()[i]->get_config());
    }
    const Tensor<float> after = loaded.predict(x, {.verbose = 0});
    CHECK(std::equal(before.begin(), before.end(), after.begin(), after.end()));
    fs::remove_all(dir);
}

TEST_CASE("a killed save leaves the previous file loadable", "[saving][atomic]") {
    const fs::path dir = temp_dir();
    Sequential<float> model = small_cnn();
    const std::string path = (dir / "model.lumen").string();
    model.save(path);
    const auto good = read_bytes(path);
    // A save killed mid-write leaves a truncated temporary next to the target; the target is untouched.
    std::vector<unsigned char> partial(good.begin(), good.begin() + static_cast<long>(good.size() / 3));
    write_bytes(path + ".tmp.12345", partial);
    Sequential<float> loaded = load_model<float>(path);
    CHECK(loaded.count_params() == model.count_params());
    // and a save into a directory that does not exist fails cleanly without touching anything
    CHECK_THROWS_WITH(model.save((dir / "missing" / "m.lumen").string()), Catch::Contains("cannot create"));
    CHECK(read_bytes(path) == good);
    fs::remove_all(dir);
}

TEST_CASE("hostile model files give an Error naming the file and the problem", "[saving][hostile]") {
    const fs::path dir = temp_dir();
    Sequential<float> model = small_cnn();
    model.compile("adam", "sparse_categorical_crossentropy");
    auto [x, y] = toy_data(16);
    model.fit(x, y, {.batch_size = 8, .verbose = 0});
    const std::string path = (dir / "model.lumen").string();
    model.save(path);
    const auto good = read_bytes(path);
    const std::string bad = (dir / "bad.lumen").string();

    SECTION("every truncation") {
        for (std::size_t cut = 0; cut < good.size(); cut += std::max<std::size_t>(1, good.size() / 97)) {
            write_bytes(bad, std::vector<unsigned char>(good.begin(), good.begin() + static_cast<long>(cut)));
            INFO("cut at " << cut << " of " << good.size());
            CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains(bad) && Catch::Contains("not a valid lumen model file"));
        }
    }
    SECTION("wrong magic") {
        auto b = good;
        b[0] = 'X';
        write_bytes(bad, b);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("wrong magic"));
    }
    SECTION("wrong version") {
        auto b = good;
        b[8] = 99;
        write_bytes(bad, b);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("format version 99 is not supported"));
    }
    SECTION("a flipped data byte fails the checksum") {
        auto b = good;
        b[b.size() - 20] ^= 0x5A;
        write_bytes(bad, b);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("checksum"));
    }
    SECTION("absurd sizes are refused before allocating") {
        model::file_detail::Writer w;
        w.bytes(model::kModelFileMagic, 8);
        w.le<std::uint32_t>(model::kModelFileVersion);
        w.le<std::uint64_t>(0);                      // empty architecture
        w.le<std::uint64_t>(std::uint64_t{1} << 40);  // 2^40 weights
        write_bytes(bad, w.buffer());
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("weight count claims 1099511627776 entries"));

        model::file_detail::Writer v;
        v.bytes(model::kModelFileMagic, 8);
        v.le<std::uint32_t>(model::kModelFileVersion);
        v.le<std::uint64_t>(std::uint64_t{1} << 40);  // a 1 TiB architecture
        write_bytes(bad, v.buffer());
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("architecture claims"));

        model::file_detail::Writer t;
        t.bytes(model::kModelFileMagic, 8);
        t.le<std::uint32_t>(model::kModelFileVersion);
        t.le<std::uint64_t>(0);
        t.le<std::uint64_t>(1);
        t.str("dense");
        t.str("kernel");
        t.le<std::uint32_t>(2);
        t.le<std::uint64_t>(std::uint64_t{1} << 16);  // (2^16, 2^16): 16 GiB of floats in a tiny file
        t.le<std::uint64_t>(std::uint64_t{1} << 16);
        for (int i = 0; i < 64; ++i) t.le<std::uint32_t>(0);
        write_bytes(bad, t.buffer());
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("needs 17179869184 bytes but only"));
        // beyond 2^34 elements the shape itself is refused
        model::file_detail::Writer u;
        u.bytes(model::kModelFileMagic, 8);
        u.le<std::uint32_t>(model::kModelFileVersion);
        u.le<std::uint64_t>(0);
        u.le<std::uint64_t>(1);
        u.str("dense");
        u.str("kernel");
        u.le<std::uint32_t>(2);
        u.le<std::uint64_t>(std::uint64_t{1} << 20);
        u.le<std::uint64_t>(std::uint64_t{1} << 20);
        for (int i = 0; i < 64; ++i) u.le<std::uint32_t>(0);
        write_bytes(bad, u.buffer());
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("claims more than 2^34 elements"));
    }
    SECTION("architecture / weights mismatch") {
        model::ModelFile f = model::read_model_file(path);
        f.weights.back().tensor = model::SavedTensor{Shape{7}, std::vector<float>(7, 0.f)};  // dense bias (3,) -> (7,)
        model::write_model_file(bad, f);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("architecture/weights mismatch") && Catch::Contains("dense/bias"));
        f = model::read_model_file(path);
        f.weights.pop_back();
        model::write_model_file(bad, f);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains("architecture/weights mismatch"));
        f = model::read_model_file(path);
        const auto at = f.architecture.find("layer\tConv2D");
        f.architecture.replace(at, 12, "layer\tConv9D");
        model::write_model_file(bad, f);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains(bad) && Catch::Contains("unknown layer class \"Conv9D\""));
        f = model::read_model_file(path);
        const auto seed_at = f.architecture.find("seed\t");
        f.architecture.replace(seed_at, 6, "seed\tx");
        model::write_model_file(bad, f);
        CHECK_THROWS_AS(load_model<float>(bad), Error);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains(bad) && Catch::Contains("unreadable value"));
    }
    SECTION("an architecture that needs far more weights than the file holds is refused before allocating") {
        // A valid checksum around a forged "Dense units=100000000": its kernel would be 64 x 1e8 floats (25.6 GB).
        // Building it used to allocate (and zero) that before the weights were compared; now the file's weights
        // section sets the budget and the kernel is refused unallocated.
        model::ModelFile f = model::read_model_file(path);
        const auto at = f.architecture.rfind("config\tunits\t3");
        REQUIRE(at != std::string::npos);
        f.architecture.replace(at, 14, "config\tunits\t100000000");
        model::write_model_file(bad, f);
        CHECK_THROWS_WITH(load_model<float>(bad), Catch::Contains(bad) && Catch::Contains("refusing to allocate") &&
                                                      Catch::Contains("(64, 100000000)") &&
                                                      Catch::Contains("weights section"));
    }
    SECTION("a missing file") {
        CHECK_THROWS_WITH(load_model<float>((dir / "nope.lumen").string()), Catch::Contains("nope.lumen"));
    }
    fs::remove_all(dir);
}

TEST_CASE("save_weights / load_weights match layers by name (transfer learning)", "[saving][weights]") {
    const fs::path dir = temp_dir();
    Sequential<float> source = small_cnn(1, 3);
    const std::string path = (dir / "w.lumen").string();
    source.save_weights(path);

    Sequential<float> target = small_cnn(2, 5);  // same body, a 5-class head
    CHECK_THROWS_WITH(target.load_weights(path), Catch::Contains("layer \"dense\" weight \"kernel\" has shape (64, 3) in the file but (64, 5)"));
    const std::string report = target.load_weights(path, {.skip_mismatch = true});
    CHECK_THAT(report, Catch::Contains("skipped (shape mismatch): dense/kernel"));
    const auto& a = source.get_layer("conv2d")->weights()[0]->value;
    const auto& b = target.get_layer("conv2d")->weights()[0]->value;
    CHECK(std::equal(a.begin(), a.end(), b.begin()));

    Sequential<float> other({layers::Input<float>({4}), layers::Dense<float>(2, {.name = "unrelated"})});
    CHECK_THROWS_WITH(other.load_weights(path), Catch::Contains("holds no weight whose layer and weight names match"));
    fs::remove_all(dir);
}
