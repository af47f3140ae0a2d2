// IDX / gzip reading and load_fashion_mnist().
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "lumen/data/idx.hpp"

namespace fs = std::filesystem;
using namespace lumen;

namespace {
fs::path temp_dir(const char* name) {
    fs::path d = fs::temp_directory_path() / (std::string("lumen_test_idx_") + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}
void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
// A gzip member holding `data` in one stored (uncompressed) deflate block; CRC left zero (not checked).
std::vector<std::uint8_t> gzip_stored(const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> g{0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3, 'x', 0};  // FNAME "x"
    g.push_back(1);  // BFINAL=1, BTYPE=00
    const auto n = static_cast<std::uint16_t>(data.size());
    g.push_back(n & 0xff);
    g.push_back(n >> 8);
    g.push_back(static_cast<std::uint8_t>(~n & 0xff));
    g.push_back(static_cast<std::uint8_t>((~n >> 8) & 0xff));
    g.insert(g.end(), data.begin(), data.end());
    for (int i = 0; i < 4; ++i) g.push_back(0);
    for (int i = 0; i < 4; ++i) g.push_back(static_cast<std::uint8_t>(data.size() >> (8 * i)));
    return g;
}
}  // namespace

TEST_CASE("parse_idx reads a hand-made rank-3 file, raw and gzip'd", "[data][idx]") {
    std::vector<std::uint8_t> idx{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    for (int i = 0; i < 12; ++i) idx.push_back(static_cast<std::uint8_t>(10 * i));
    const fs::path d = temp_dir("small");
    write_bytes(d / "raw-idx3-ubyte", idx);
    write_bytes(d / "gz-idx3-ubyte.gz", gzip_stored(idx));
    for (const char* f : {"raw-idx3-ubyte", "gz-idx3-ubyte.gz"}) {
        const data::IdxArray a = data::load_idx(d / f);
        CHECK(a.dims == std::vector<index_t>{2, 2, 3});
        REQUIRE(a.data.size() == 12);
        CHECK(a.data[11] == 110);
    }
}

TEST_CASE("IDX and gzip errors name the file", "[data][idx][errors]") {
    const fs::path d = temp_dir("bad");
    std::vector<std::uint8_t> idx{0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3};  // announces 5, holds 3
    write_bytes(d / "short", idx);
    CHECK_THROWS_WITH(data::load_idx(d / "short"), Catch::Contains("short") && Catch::Contains("truncated"));
    auto gz = gzip_stored({0, 0, 8, 1, 0, 0, 0, 1, 7});
    gz.resize(gz.size() - 6);  // cut into the trailer
    write_bytes(d / "cut.gz", gz);
    CHECK_THROWS_WITH(data::load_idx(d / "cut.gz"), Catch::Contains("cut.gz"));
    CHECK_THROWS_WITH(data::load_idx(d / "missing"), Catch::Contains("missing") && Catch::Contains("no such file"));
    CHECK_THROWS_WITH(data::load_fashion_mnist(d), Catch::Contains("dataset-fashion-mnist"));
}

TEST_CASE("load_fashion_mnist returns Keras' shapes, values and labels", "[data][idx][fashion]") {
    const fs::path dir = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(dir / "train-images-idx3-ubyte.gz")) {
        WARN("SKIPPED: " << dir << " not installed (Debian package dataset-fashion-mnist)");
        return;
    }
    const auto d = data::load_fashion_mnist(dir);
    CHECK(d.x_train.shape() == Shape{60000, 28, 28, 1});
    CHECK(d.y_train.shape() == Shape{60000});
    CHECK(d.x_test.shape() == Shape{10000, 28, 28, 1});
    CHECK(d.y_test.shape() == Shape{10000});
    CHECK(d.x_train.array().minCoeff() == 0.0f);
    CHECK(d.x_train.array().maxCoeff() == 255.0f);
    // Known first labels of Fashion-MNIST: train starts 9 (Ankle boot), 0, 0, 3; test starts 9, 2, 1, 1.
    CHECK(d.y_train[0] == 9);
    CHECK(d.y_train[1] == 0);
    CHECK(d.y_train[3] == 3);
    CHECK(d.y_test[0] == 9);
    CHECK(d.y_test[1] == 2);
    // Balanced: 6000 of each class in the training set.
    std::vector<int> counts(10, 0);
    for (float v : d.y_train) ++counts[static_cast<std::size_t>(v)];
    for (int c : counts) CHECK(c == 6000);
    CHECK(std::string(data::fashion_mnist_class_names()[9]) == "Ankle boot");
}
