// Bad input is named, never a crash: a corpus of broken files generated at test time (truncated copies of a
// real JPEG and of a PNG, random bytes, a text file named .jpg, an empty file, a forged huge header), bad
// folders and a symlink loop. Run it under AddressSanitizer too (LUMEN_SANITIZE=address).
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
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
    fs::path d = fs::temp_directory_path() / ("lumen_test_err_" + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}
void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
struct Capture {
    std::ostringstream text;
    std::ostream& stream;
    std::streambuf* old;
    explicit Capture(std::ostream& s) : stream(s), old(s.rdbuf(text.rdbuf())) {}
    ~Capture() { stream.rdbuf(old); }
};
// A real JPEG when the shared photos exist, else one lumen writes (both baseline).
std::vector<std::uint8_t> some_jpeg(const fs::path& scratch) {
    const fs::path real = lumen::test::shared_dir() / "data" / "originals" / "cats_vs_dogs" / "train" / "cats" / "cat.0.jpg";
    if (fs::exists(real)) return data::read_file(real);
    data::Image img(40, 50, 3);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = std::uint8_t(i * 7);
    data::save_img(scratch / "made.jpg", img);
    return data::read_file(scratch / "made.jpg");
}
std::vector<std::uint8_t> some_png(const fs::path& scratch) {
    data::Image img(30, 30, 3);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = std::uint8_t(i * 13);
    data::save_img(scratch / "made.png", img);
    return data::read_file(scratch / "made.png");
}
// Writes the bad-file corpus into dir/cls and returns the names of the bad files.
std::vector<std::string> write_corpus(const fs::path& cls, const fs::path& scratch) {
    const auto jpg = some_jpeg(scratch);
    const auto png = some_png(scratch);
    write_bytes(cls / "good.jpg", jpg);
    write_bytes(cls / "good.png", png);
    write_bytes(cls / "trunc_half.jpg", {jpg.begin(), jpg.begin() + std::ptrdiff_t(jpg.size() / 2)});
    write_bytes(cls / "trunc_tail.jpg", {jpg.begin(), jpg.end() - 2});  // only the EOI marker missing
    write_bytes(cls / "trunc_header.jpg", {jpg.begin(), jpg.begin() + 100});
    write_bytes(cls / "trunc.png", {png.begin(), png.begin() + std::ptrdiff_t(png.size() * 2 / 3)});
    write_bytes(cls / "empty.png", {});
    std::ofstream(cls / "text.jpg") << "this is not a picture\n";
    std::mt19937 rng(1);
    std::vector<std::uint8_t> noise(4096);
    for (auto& b : noise) b = std::uint8_t(rng());
    write_bytes(cls / "noise.jpg", noise);
    // A PNG header claiming 15000 x 15000 pixels (2.25e8, beyond PIL's 89e6 limit).
    std::vector<std::uint8_t> huge{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0, 0, 0x3A, 0x98, 0, 0, 0x3A, 0x98, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    write_bytes(cls / "huge.png", huge);
    return {"trunc_half.jpg", "trunc_tail.jpg", "trunc_header.jpg", "trunc.png", "empty.png", "text.jpg",
            "noise.jpg", "huge.png"};
}
}  // namespace

TEST_CASE("decoding a bad file throws an Error naming the file and the reason", "[data][errors]") {
    const fs::path d = temp_dir("decode");
    write_corpus(d / "cls", d);
    const fs::path c = d / "cls";
    CHECK_NOTHROW(data::load_img(c / "good.jpg"));
    CHECK_NOTHROW(data::load_img(c / "good.png"));
    CHECK_THROWS_WITH(data::load_img(c / "trunc_half.jpg"), Catch::Contains("trunc_half.jpg") && Catch::Contains("truncated JPEG"));
    CHECK_THROWS_WITH(data::load_img(c / "trunc_tail.jpg"), Catch::Contains("trunc_tail.jpg") && Catch::Contains("truncated"));
    CHECK_THROWS_WITH(data::load_img(c / "trunc_header.jpg"), Catch::Contains("trunc_header.jpg"));
    CHECK_THROWS_WITH(data::load_img(c / "trunc.png"), Catch::Contains("trunc.png") && Catch::Contains("truncated PNG"));
    CHECK_THROWS_WITH(data::load_img(c / "empty.png"), Catch::Contains("empty.png") && Catch::Contains("empty file"));
    CHECK_THROWS_WITH(data::load_img(c / "text.jpg"), Catch::Contains("text.jpg") && Catch::Contains("not a supported image"));
    CHECK_THROWS_WITH(data::load_img(c / "noise.jpg"), Catch::Contains("noise.jpg"));
    CHECK_THROWS_WITH(data::load_img(c / "huge.png"), Catch::Contains("huge.png") && Catch::Contains("exceeds the limit"));
    CHECK_THROWS_WITH(data::load_img(c / "absent.jpg"), Catch::Contains("absent.jpg") && Catch::Contains("no such file"));
    CHECK_THROWS_WITH(data::load_img(c), Catch::Contains("directory"));
    // A lower limit is honoured too.
    CHECK_THROWS_WITH(data::load_img(c / "good.png", {.limits = {.max_pixels = 100}}), Catch::Contains("good.png"));
}

TEST_CASE("a JPEG Huffman table with more than 256 codes is refused before stb reads it", "[data][errors]") {
    // fuzz_image findings: stb_image 2.27 (Debian 12) writes past its 257-entry size list and 256-entry value list
    // for a DHT segment declaring more codes (UBSan: index 257 out of bounds in stbi__build_huffman), both when
    // decoding and, for a table before the frame header, already in stbi_info.
    // SOI, SOF0 (1x1 grey) and a DHT with 255 + 45 = 300 codes in either order, EOI.
    const std::vector<std::uint8_t> sof{0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0};
    const std::size_t codes = 300, dht_len = 2 + 17 + codes;
    std::vector<std::uint8_t> dht_bytes{0xFF, 0xC4, std::uint8_t(dht_len >> 8), std::uint8_t(dht_len & 0xFF), 0x00};
    for (int i = 0; i < 16; ++i) dht_bytes.push_back(i == 7 ? 255 : i == 8 ? 45 : 0);
    for (std::size_t i = 0; i < codes; ++i) dht_bytes.push_back(std::uint8_t(i));
    const std::vector<std::uint8_t>& dht = dht_bytes;
    for (bool dht_first : {false, true}) {
        std::vector<std::uint8_t> jpg{0xFF, 0xD8};
        for (const auto* part : dht_first ? std::array{&dht, &sof} : std::array{&sof, &dht})
            jpg.insert(jpg.end(), part->begin(), part->end());
        jpg.push_back(0xFF);
        jpg.push_back(0xD9);
        INFO("DHT before SOF: " << dht_first);
        CHECK_THROWS_WITH(data::decode_image(jpg, 3, "dht.jpg"),
                          Catch::Contains("dht.jpg") && Catch::Contains("Huffman table declares 300 codes"));
        CHECK_THROWS_WITH(data::check_image(jpg, "dht.jpg"), Catch::Contains("Huffman table declares 300 codes"));
        jpg.insert(jpg.begin(), 5, 0xFF);  // stb also accepts fill bytes before the start-of-image marker
        CHECK_THROWS_WITH(data::check_image(jpg, "dht.jpg"), Catch::Contains("Huffman table declares 300 codes"));
    }
}

TEST_CASE("a JPEG scan that uses a Huffman table no DHT segment defined is refused before stb decodes it", "[data][errors]") {
    // fuzz_image finding: stb_image 2.27 leaves its decoder's Huffman tables uninitialised, so a scan using a table
    // the file never defined decodes with garbage (a failed assertion in stbi__jpeg_huff_decode in the fuzz build,
    // out-of-bounds reads where asserts are off). A real JPEG written by lumen, then its DHT's AC table 0 renamed
    // to AC table 2: the scan still asks for AC table 0.
    const fs::path d = temp_dir("dht_missing");
    data::Image img(8, 8, 3);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = std::uint8_t(i * 7);
    data::save_img(d / "ok.jpg", img);
    std::vector<std::uint8_t> jpg = data::read_file(d / "ok.jpg");
    CHECK(data::check_image(jpg, "ok.jpg") == std::array<int, 3>{8, 8, 3});
    CHECK_NOTHROW(data::decode_image(jpg, 3, "ok.jpg"));
    bool renamed = false;
    for (std::size_t i = 2; i + 4 < jpg.size() && !renamed; ++i) {
        if (jpg[i] != 0xFF || jpg[i + 1] != 0xC4) continue;
        const std::size_t end = i + 2 + ((std::size_t(jpg[i + 2]) << 8) | jpg[i + 3]);
        for (std::size_t t = i + 4; t < end;) {
            std::size_t codes = 0;
            for (std::size_t k = 1; k <= 16; ++k) codes += jpg[t + k];
            if (jpg[t] == 0x10) {
                jpg[t] = 0x12;
                renamed = true;
                break;
            }
            t += 17 + codes;
        }
    }
    REQUIRE(renamed);
    CHECK_THROWS_WITH(data::check_image(jpg, "missing.jpg"),
                      Catch::Contains("missing.jpg") && Catch::Contains("AC Huffman table 0, which no DHT segment"));
    CHECK_THROWS_WITH(data::decode_image(jpg, 3, "missing.jpg"), Catch::Contains("AC Huffman table 0"));
    fs::remove_all(d);
}

TEST_CASE("the Huffman-table check follows baseline and progressive scans", "[data][errors]") {
    // Hand-built marker sequences (no image data: the walk checks structure only). A DHT defines one table per
    // entry below: class 0 DC / 1 AC, id, one code of length 1.
    using Bytes = std::vector<std::uint8_t>;
    auto segment = [](std::uint8_t marker, const Bytes& body) {
        Bytes b;  // appended byte by byte: GCC 12 warns (-Warray-bounds) on insert after a 4-byte braced list
        for (const std::uint8_t v : {std::uint8_t(0xFF), marker, std::uint8_t((body.size() + 2) >> 8),
                                     std::uint8_t((body.size() + 2) & 0xFF)})
            b.push_back(v);
        for (const std::uint8_t v : body) b.push_back(v);
        return b;
    };
    auto dht = [&](int cls, int id) {
        Bytes body{std::uint8_t(cls << 4 | id), 1};
        body.resize(body.size() + 15, 0);
        body.push_back(0);  // the one symbol
        return segment(0xC4, body);
    };
    // SOS for one component (id 1) with tables td/ta, spectral range ss..se, successive approximation ah.
    auto sos = [&](int td, int ta, int ss, int se, int ah) {
        Bytes b = segment(0xDA, {1, 1, std::uint8_t(td << 4 | ta), std::uint8_t(ss), std::uint8_t(se), std::uint8_t(ah << 4)});
        b.push_back(0x00);  // one byte of entropy-coded data
        return b;
    };
    auto jpeg = [&](std::uint8_t sof, std::initializer_list<Bytes> parts) {
        Bytes b{0xFF, 0xD8};
        const Bytes frame = segment(sof, {8, 0, 1, 0, 1, 1, 1, 0x11, 0});
        b.insert(b.end(), frame.begin(), frame.end());
        for (const auto& p : parts) b.insert(b.end(), p.begin(), p.end());
        b.push_back(0xFF);
        b.push_back(0xD9);
        return b;
    };
    using data::detail::jpeg_structure_problem;
    // Baseline: both tables of every component, defined before the scan.
    CHECK(jpeg_structure_problem(jpeg(0xC0, {dht(0, 0), dht(1, 0), sos(0, 0, 0, 63, 0)})).empty());
    CHECK_THAT(jpeg_structure_problem(jpeg(0xC0, {dht(0, 0), sos(0, 0, 0, 63, 0), dht(1, 0)})),
               Catch::Contains("AC Huffman table 0"));  // defined only after the scan
    CHECK_THAT(jpeg_structure_problem(jpeg(0xC0, {dht(1, 0), sos(0, 0, 0, 63, 0)})), Catch::Contains("DC Huffman table 0"));
    CHECK_THAT(jpeg_structure_problem(jpeg(0xC0, {dht(0, 0), dht(1, 1), sos(0, 0, 0, 63, 0)})),
               Catch::Contains("AC Huffman table 0"));
    // Progressive: a DC first scan needs its DC table only; a DC refinement scan (Ah > 0) decodes no table; an AC
    // scan needs its AC table only, and a DHT between scans counts for the scans after it.
    CHECK(jpeg_structure_problem(jpeg(0xC2, {dht(0, 0), sos(0, 3, 0, 0, 0), sos(2, 3, 0, 0, 1), dht(1, 1),
                                             sos(3, 1, 1, 63, 0), sos(3, 1, 1, 63, 1)}))
              .empty());
    CHECK_THAT(jpeg_structure_problem(jpeg(0xC2, {dht(0, 0), sos(0, 3, 0, 0, 0), sos(0, 1, 1, 63, 0), dht(1, 1)})),
               Catch::Contains("AC Huffman table 1"));
    CHECK_THAT(jpeg_structure_problem(jpeg(0xC2, {sos(2, 0, 0, 0, 0)})), Catch::Contains("DC Huffman table 2"));
}

TEST_CASE("a PGM/PPM header number beyond an int is refused before stb parses it", "[data][errors]") {
    // fuzz_image finding: stb_image 2.27 reads PNM header numbers into an int without an overflow check
    // (UBSan: signed integer overflow, 324444444 * 10, in stbi__pnm_getinteger).
    for (const std::string header : {"P6\n3244444444 1\n255\n", "P5 # comment\n1 99999999999\n255\n", "P6\n1 1\n4294967296\n"}) {
        INFO(header);
        CHECK_THROWS_WITH(data::check_image(std::vector<std::uint8_t>(header.begin(), header.end()), "big.ppm"),
                          Catch::Contains("big.ppm") && Catch::Contains("corrupt PNM header"));
    }
    const std::string ok = "P5\n# a comment\n2 1\n255\n\x10\x20";
    CHECK(data::check_image(std::vector<std::uint8_t>(ok.begin(), ok.end()), "ok.pgm") == std::array<int, 3>{1, 2, 1});
}

TEST_CASE("folder datasets skip bad files with one warning each, or fail in strict mode", "[data][errors]") {
    const fs::path d = temp_dir("folder");
    const auto bad = write_corpus(d / "root" / "cls", d);
    const fs::path root = d / "root";
    data::ImageDataGenerator gen;
    {
        Capture err(std::cerr), out(std::cout);
        auto it = gen.flow_from_directory(root, {.target_size = {8, 8}, .batch_size = 4});
        CHECK(it.samples() == 2);
        CHECK(out.text.str() == "Found 2 images belonging to 1 classes.\n");
        for (const auto& name : bad) {
            INFO(name);
            CHECK(err.text.str().find(name) != std::string::npos);
        }
        CHECK(it.batch(0).x.shape() == Shape{2, 8, 8, 3});
    }
    {
        Capture err(std::cerr), out(std::cout);
        auto ds = data::image_dataset_from_directory(root, {.image_size = {8, 8}, .shuffle = false, .cache_bytes = 0});
        CHECK(ds.num_samples() == 2);  // streamed (no cache): files are checked, not decoded, up front
        CHECK(ds.batch(0).x.dim(0) == 2);
        CHECK(err.text.str().find("trunc_half.jpg") != std::string::npos);
    }
    Capture err(std::cerr), out(std::cout);
    CHECK_THROWS_WITH(gen.flow_from_directory(root, {.target_size = {8, 8}, .strict = true}),
                      Catch::Contains("huge.png") || Catch::Contains("trunc") || Catch::Contains("empty.png") ||
                          Catch::Contains("text.jpg") || Catch::Contains("noise.jpg"));
}

TEST_CASE("bad folders: missing, no images, empty class, symlink loop", "[data][errors]") {
    const fs::path d = temp_dir("folders");
    data::ImageDataGenerator gen;
    Capture err(std::cerr), out(std::cout);
    CHECK_THROWS_WITH(gen.flow_from_directory(d / "missing"), Catch::Contains("missing") && Catch::Contains("does not exist"));
    fs::create_directories(d / "noimg" / "a");
    std::ofstream(d / "noimg" / "a" / "x.txt") << "x";
    CHECK_THROWS_WITH(gen.flow_from_directory(d / "noimg"), Catch::Contains("noimg") && Catch::Contains("no images"));
    // One class folder empty: a warning naming it; the others load.
    data::Image img(4, 4, 3);
    fs::create_directories(d / "mixed" / "full");
    fs::create_directories(d / "mixed" / "hollow");
    data::save_img(d / "mixed" / "full" / "a.png", img);
    auto it = gen.flow_from_directory(d / "mixed", {.target_size = {4, 4}});
    CHECK(it.samples() == 1);
    CHECK(it.num_classes() == 2);
    CHECK(err.text.str().find("hollow") != std::string::npos);
    // A symlink loop: followed with follow_links, the listing still ends (each folder walked once).
    fs::create_directory_symlink(d / "mixed" / "full", d / "mixed" / "full" / "loop");
    auto a = gen.flow_from_directory(d / "mixed", {.target_size = {4, 4}, .follow_links = true});
    CHECK(a.samples() == 1);
    auto b = gen.flow_from_directory(d / "mixed", {.target_size = {4, 4}});
    CHECK(b.samples() == 1);
    // Bad options are named.
    CHECK_THROWS_WITH(gen.flow_from_directory(d / "mixed", {.target_size = {0, 4}}), Catch::Contains("target_size"));
    CHECK_THROWS_WITH(gen.flow_from_directory(d / "mixed", {.color_mode = "hsv"}), Catch::Contains("color_mode"));
    CHECK_THROWS_WITH(gen.flow_from_directory(d / "mixed", {.batch_size = 0}), Catch::Contains("batch_size"));
    CHECK_THROWS_WITH(data::ImageDataGenerator({.validation_split = 1.5}), Catch::Contains("validation_split"));
    CHECK_THROWS_WITH(data::ImageDataGenerator({.fill_mode = "mirror"}), Catch::Contains("fill_mode"));
    CHECK_THROWS_WITH(data::ImageDataGenerator({.zoom_range = {1.2, 0.8}}), Catch::Contains("zoom_range"));
}
