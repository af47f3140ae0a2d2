// Limits (docs/reliability.md, "Limits"): every size read from a file is checked against a documented limit and
// against the bytes actually present BEFORE anything is allocated, with an Error naming the file and the limit;
// the image cache stays within its byte budget; a batch whose activations do not fit in memory is reported as an
// Error naming the layer and suggesting a smaller batch_size (checked in a child process whose address space is
// capped with RLIMIT_AS, so the allocation really fails). What test_saving, test_data_errors and test_data_idx
// already cover (absurd weight counts, architecture sizes and tensor shapes, PIL's pixel limit, truncated IDX
// data) is not repeated here.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/data/DirectoryDataset.hpp"
#include "lumen/data/ImageCache.hpp"
#include "lumen/data/file.hpp"
#include "lumen/data/idx.hpp"
#include "lumen/data/image.hpp"
#include "lumen/data/image_utils.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/losses/MeanSquaredError.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/model/model_file.hpp"
#include "lumen/optimizers/SGD.hpp"
#include "support/golden.hpp"

namespace fs = std::filesystem;
using namespace lumen;

namespace {

// Sanitizer runtimes reserve terabytes of address space and abort on a failed allocation instead of throwing
// std::bad_alloc, so the RLIMIT_AS test only runs in plain builds.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

fs::path temp_dir(const std::string& name) {
    fs::path d = fs::temp_directory_path() / ("lumen_test_limits_" + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}
void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A model file header (magic, version, empty architecture) to which a test appends forged sections.
model::file_detail::Writer model_header() {
    model::file_detail::Writer w;
    w.bytes(model::kModelFileMagic, 8);
    w.le<std::uint32_t>(model::kModelFileVersion);
    w.le<std::uint64_t>(0);
    return w;
}
std::string load_error(const fs::path& p, model::file_detail::Writer& w) {
    write_bytes(p, w.buffer());
    try {
        model::read_model_file(p.string());
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// A gzip member holding `data` in one stored deflate block (CRC not checked by lumen).
std::vector<std::uint8_t> gzip_stored(const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> g{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1};
    const auto n = static_cast<std::uint16_t>(data.size());
    for (std::uint16_t v : {n, static_cast<std::uint16_t>(~n)}) {
        g.push_back(std::uint8_t(v & 0xff));
        g.push_back(std::uint8_t(v >> 8));
    }
    g.insert(g.end(), data.begin(), data.end());
    for (int i = 0; i < 4; ++i) g.push_back(0);
    for (int i = 0; i < 4; ++i) g.push_back(std::uint8_t(data.size() >> (8 * i)));
    return g;
}

// A w x h RGB PNG whose pixels all hold `value`.
void write_png(const fs::path& p, index_t h, index_t w, int value) {
    fs::create_directories(p.parent_path());
    data::Image img(h, w, 3);
    std::fill(img.pixels.begin(), img.pixels.end(), std::uint8_t(value));
    data::save_img(p, img);
}

}  // namespace

// ------------------------------------------------------------------------------------------------ model file

TEST_CASE("model file: rank, name, text and slot-count limits are enforced before allocating", "[limits][saving]") {
    const fs::path d = temp_dir("model");
    const fs::path bad = d / "bad.lumen";
    SECTION("a tensor rank beyond kMaxRank") {
        auto w = model_header();
        w.le<std::uint64_t>(1);
        w.str("dense");
        w.str("kernel");
        w.le<std::uint32_t>(model::kMaxRank + 1);
        for (int i = 0; i < 16; ++i) w.le<std::uint64_t>(1);
        const std::string e = load_error(bad, w);
        CHECK_THAT(e, Catch::Contains("bad.lumen") && Catch::Contains("has rank 9 (limit 8)"));
    }
    SECTION("a layer name longer than kMaxNameBytes") {
        auto w = model_header();
        w.le<std::uint64_t>(1);
        w.le<std::uint32_t>(std::uint32_t(model::kMaxNameBytes + 1));
        w.bytes(std::string(model::kMaxNameBytes + 1, 'a').data(), model::kMaxNameBytes + 1);
        for (int i = 0; i < 16; ++i) w.le<std::uint32_t>(0);
        const std::string e = load_error(bad, w);
        CHECK_THAT(e, Catch::Contains("layer name claims 4097 bytes (limit 4096)"));
    }
    SECTION("a name length of 4 GiB in a tiny file") {
        auto w = model_header();
        w.le<std::uint64_t>(1);
        w.le<std::uint32_t>(0xFFFFFFFFu);
        for (int i = 0; i < 16; ++i) w.le<std::uint32_t>(0);
        CHECK_THAT(load_error(bad, w), Catch::Contains("layer name claims 4294967295 bytes (limit 4096)"));
    }
    SECTION("a name within the limit but beyond the end of the file") {
        auto w = model_header();
        w.le<std::uint64_t>(1);
        w.le<std::uint32_t>(4000);
        for (int i = 0; i < 16; ++i) w.le<std::uint32_t>(0);
        CHECK_THAT(load_error(bad, w), Catch::Contains("truncated: layer name needs 4000 bytes"));
    }
    SECTION("an optimizer config beyond kMaxTextBytes, and a slot count beyond kMaxTensors") {
        auto w = model_header();
        w.le<std::uint64_t>(0);  // no weights
        w.le<std::uint8_t>(1);
        w.str("Adam");
        w.le<std::uint64_t>(model::kMaxTextBytes + 1);
        CHECK_THAT(load_error(bad, w), Catch::Contains("optimizer config claims 67108865 bytes (limit 64 MiB)"));

        auto v = model_header();
        v.le<std::uint64_t>(0);
        v.le<std::uint8_t>(1);
        v.str("Adam");
        v.le<std::uint64_t>(0);  // empty config
        v.le<std::int64_t>(3);   // iterations
        v.le<std::uint64_t>(model::kMaxTensors + 1);
        for (int i = 0; i < 64; ++i) v.le<std::uint32_t>(0);
        CHECK_THAT(load_error(bad, v), Catch::Contains("optimizer slot count claims 1048577 entries"));
    }
    SECTION("a slot shape that needs more bytes than the file holds") {
        auto w = model_header();
        w.le<std::uint64_t>(0);
        w.le<std::uint8_t>(1);
        w.str("Adam");
        w.le<std::uint64_t>(0);
        w.le<std::int64_t>(3);
        w.le<std::uint64_t>(1);
        w.le<std::uint32_t>(1);
        w.le<std::uint64_t>(std::uint64_t{1} << 30);  // 4 GiB of floats
        for (int i = 0; i < 16; ++i) w.le<std::uint32_t>(0);
        CHECK_THAT(load_error(bad, w), Catch::Contains("optimizer slot 0 of shape (1073741824,) needs 4294967296 bytes"));
    }
    SECTION("a negative iteration count") {
        auto w = model_header();
        w.le<std::uint64_t>(0);
        w.le<std::uint8_t>(1);
        w.str("Adam");
        w.le<std::uint64_t>(0);
        w.le<std::int64_t>(-1);
        for (int i = 0; i < 4; ++i) w.le<std::uint32_t>(0);
        CHECK_THAT(load_error(bad, w), Catch::Contains("optimizer iterations is negative"));
    }
}

// ------------------------------------------------------------------------------------------------ tensors

TEST_CASE("Tensor refuses shapes beyond kMaxTensorElements before allocating", "[limits][core]") {
    CHECK(kMaxTensorElements == index_t{1} << 34);
    CHECK_THROWS_WITH(Tensor<float>(Shape{index_t{1} << 20, index_t{1} << 20}),
                      Catch::Contains("more than 2^34 elements; refusing to allocate"));
    // products that overflow 64 bits are caught too, not wrapped round to a small size
    CHECK_THROWS_WITH(Tensor<float>(Shape{index_t{1} << 40, index_t{1} << 40, 16}), Catch::Contains("2^34"));
    Tensor<float> t(Shape{2, 3});
    CHECK_THROWS_WITH(t.resize(Shape{index_t{1} << 35}), Catch::Contains("refusing to allocate"));
}

// ------------------------------------------------------------------------------------------------ IDX and gzip

TEST_CASE("IDX headers: dimensions beyond kMaxTensorElements or the data present are refused", "[limits][idx]") {
    // 4 x 0xFFFFFFFF x 0xFFFFFFFF: beyond 2^34 elements
    std::vector<std::uint8_t> big{0, 0, 8, 3, 0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK_THROWS_WITH(data::parse_idx(big, "big.idx"), Catch::Contains("big.idx") && Catch::Contains("IDX dimensions too large"));
    // 65535 x 65535 x 4 (1.7e10 values) announced by a 16-byte file: refused by comparing with the bytes present
    std::vector<std::uint8_t> forged{0, 0, 8, 3, 0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0, 0, 4};
    CHECK_THROWS_WITH(data::parse_idx(forged, "forged.idx"),
                      Catch::Contains("forged.idx") && Catch::Contains("announces 17179344900 values but the file holds 0"));
    // a rank byte of 255 with only a few header bytes
    std::vector<std::uint8_t> rank{0, 0, 8, 255, 0, 0, 0, 1};
    CHECK_THROWS_WITH(data::parse_idx(rank, "rank.idx"), Catch::Contains("truncated IDX header"));
}

TEST_CASE("gzip: a forged size in the trailer is refused before allocating", "[limits][idx]") {
    const std::vector<std::uint8_t> idx{0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
    auto gz = gzip_stored(idx);
    REQUIRE(data::gunzip(gz, "ok.gz") == idx);
    const std::size_t n = gz.size();
    for (std::uint32_t isize : {0xFFFFFFF0u, 0x80000000u, 0x7FFFFFF0u, 0x10000000u}) {
        INFO("ISIZE " << isize);
        for (int i = 0; i < 4; ++i) gz[n - 4 + std::size_t(i)] = std::uint8_t(isize >> (8 * i));
        CHECK_THROWS_WITH(data::gunzip(gz, "forged.gz"),
                          Catch::Contains("forged.gz") && Catch::Contains("more than deflate can produce"));
    }
}

// ------------------------------------------------------------------------------------------------ images

TEST_CASE("image headers beyond DecodeLimits are refused before decoding", "[limits][image]") {
    const data::DecodeLimits defaults;
    CHECK(defaults.max_pixels == 89478485);  // PIL's Image.MAX_IMAGE_PIXELS
    CHECK(defaults.max_side == 65535);
    // PNG IHDR of 70000 x 1: within the pixel limit, beyond the side limit
    std::vector<std::uint8_t> wide{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0, 0x01, 0x11, 0x70, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    CHECK_THROWS_WITH(data::check_image(wide, "wide.png"), Catch::Contains("wide.png") && Catch::Contains("70000x1") &&
                                                               Catch::Contains("exceeds the limit"));
    // a binary PPM announcing 30000 x 30000 (9e8 pixels) in 20 bytes
    const std::string ppm = "P6\n30000 30000\n255\n";
    CHECK_THROWS_WITH(data::decode_image(std::vector<std::uint8_t>(ppm.begin(), ppm.end()), 3, "bomb.ppm"),
                      Catch::Contains("bomb.ppm") && Catch::Contains("exceeds the limit"));
    // a BMP announcing 20000 x 20000
    std::vector<std::uint8_t> bmp(54, 0);
    bmp[0] = 'B';
    bmp[1] = 'M';
    bmp[10] = 54;
    bmp[14] = 40;
    for (int k : {18, 22}) {  // width, height: 20000 = 0x4E20
        bmp[std::size_t(k)] = 0x20;
        bmp[std::size_t(k) + 1] = 0x4E;
    }
    bmp[26] = 1;
    bmp[28] = 24;
    CHECK_THROWS_WITH(data::decode_image(bmp, 3, "bomb.bmp"), Catch::Contains("bomb.bmp") && Catch::Contains("exceeds the limit"));
    // a caller's tighter limit is honoured on a real file
    const fs::path d = temp_dir("image");
    write_png(d / "p.png", 40, 30, 9);
    CHECK_NOTHROW(data::decode_image_file(d / "p.png", 3));
    CHECK_THROWS_WITH(data::decode_image_file(d / "p.png", 3, {.max_pixels = 1000000, .max_side = 32}),
                      Catch::Contains("p.png") && Catch::Contains("30x40"));
}

// ------------------------------------------------------------------------------------------------ cache budget

TEST_CASE("ImageCache keeps at most its budget and streams the rest", "[limits][cache]") {
    const fs::path d = temp_dir("cache");
    std::vector<fs::path> paths;
    for (int i = 0; i < 10; ++i) {
        std::ostringstream name;
        name << "f" << i << ".png";
        paths.push_back(d / name.str());
        write_png(paths.back(), 12, 12, 10 * i);
    }
    const data::ImageLoadSpec spec{.channels = 3, .height = 8, .width = 8};
    const std::size_t per = 8 * 8 * 3;
    SECTION("sequential use") {
        data::ImageCache cache(paths, spec, 5 * per + per / 2);  // room for five images
        for (std::size_t i = 0; i < 10; ++i) CHECK(cache.get(i).pixels[0] == 10 * i);
        CHECK(cache.bytes_used() == 5 * per);
        CHECK(cache.decodes() == 10);
        for (std::size_t i = 0; i < 10; ++i) CHECK(cache.get(i).pixels[0] == 10 * i);
        CHECK(cache.decodes() == 15);  // the five beyond the budget are decoded again
        CHECK(cache.bytes_used() == 5 * per);
    }
    SECTION("no budget: nothing is kept") {
        data::ImageCache cache(paths, spec, 0);
        for (int pass = 0; pass < 2; ++pass)
            for (std::size_t i = 0; i < 10; ++i) cache.get(i);
        CHECK(cache.bytes_used() == 0);
        CHECK(cache.decodes() == 20);
    }
    SECTION("four threads sharing the cache never exceed the budget") {
        data::ImageCache cache(paths, spec, 3 * per);
        std::vector<std::thread> threads;
        std::vector<int> wrong(4, 0);
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&cache, &wrong, t] {
                for (int pass = 0; pass < 5; ++pass)
                    for (std::size_t i = 0; i < 10; ++i) {
                        const std::size_t k = (i + std::size_t(t) * 3) % 10;
                        if (cache.get(k).pixels[0] != 10 * k) ++wrong[std::size_t(t)];
                        if (cache.bytes_used() > cache.budget()) ++wrong[std::size_t(t)];
                    }
            });
        for (auto& th : threads) th.join();
        CHECK(wrong == std::vector<int>(4, 0));
        CHECK(cache.bytes_used() <= 3 * per);
        CHECK(cache.bytes_used() > 0);
    }
}

TEST_CASE("image_dataset_from_directory honours cache_bytes; the budget changes memory, never the batches",
          "[limits][cache]") {
    const fs::path d = temp_dir("dataset");
    for (int i = 0; i < 12; ++i) {
        std::ostringstream name;
        name << "f" << i << ".png";
        write_png(d / (i % 2 ? "a" : "b") / name.str(), 10, 14, 20 * i);
    }
    const std::size_t per = 6 * 6 * 3;
    auto run = [&](std::size_t budget, int workers) {
        std::ostringstream quiet;
        auto* old = std::cout.rdbuf(quiet.rdbuf());
        auto ds = data::image_dataset_from_directory(
            d, {.batch_size = 5, .image_size = {6, 6}, .seed = 3, .cache_bytes = budget, .workers = workers});
        std::cout.rdbuf(old);
        std::vector<float> all;
        for (int epoch = 0; epoch < 2; ++epoch) {
            for (index_t b = 0; b < ds.num_batches(); ++b) {
                const auto batch = ds.batch(b);
                all.insert(all.end(), batch.x.begin(), batch.x.end());
                all.insert(all.end(), batch.y.begin(), batch.y.end());
            }
            ds.on_epoch_end();
        }
        CHECK(ds.cache().bytes_used() <= budget);
        return std::make_pair(all, ds.cache().bytes_used());
    };
    const auto [full, full_used] = run(std::size_t(1) << 20, 0);
    CHECK(full_used == 12 * per);
    const auto [small, small_used] = run(4 * per, 2);
    CHECK(small_used == 4 * per);
    CHECK(small == full);
    const auto [none, none_used] = run(0, 2);
    CHECK(none_used == 0);
    CHECK(none == full);
}

TEST_CASE("image_dataset_from_directory_both shares one cache_bytes budget between its two subsets",
          "[limits][cache]") {
    const fs::path d = temp_dir("both");
    for (int i = 0; i < 12; ++i) {
        std::ostringstream name;
        name << "f" << i << ".png";
        write_png(d / (i % 2 ? "a" : "b") / name.str(), 10, 14, 20 * i);
    }
    const std::size_t per = 6 * 6 * 3, budget = 20 * per;  // more than all 12 images: the split is what matters
    auto [train, val] = data::image_dataset_from_directory_both<float>(
        d, {.batch_size = 4, .image_size = {6, 6}, .seed = 3, .validation_split = 0.25, .cache_bytes = budget,
            .workers = 2, .verbose = false});
    for (auto* ds : {train.get(), val.get()})
        for (index_t b = 0; b < ds->num_batches(); ++b) ds->batch(b);
    CHECK(train->cache().budget() + val->cache().budget() <= budget);
    CHECK(train->cache().bytes_used() + val->cache().bytes_used() == 12 * per);  // all fit within their shares
}

// Manual measurement for docs/reliability.md (hidden): one pass over the flowers at 180x180 with the cache budget
// given in MiB by LUMEN_CACHE_MB (default 64); run under /usr/bin/time -v to read the peak resident memory.
TEST_CASE("flowers pass with a cache budget (peak-memory measurement)", "[.][memory]") {
    const fs::path dir = lumen::test::shared_dir() / "data" / "flower_photos";
    if (!fs::exists(dir)) {
        WARN("SKIPPED: " << dir << " not found");
        return;
    }
    const char* env = std::getenv("LUMEN_CACHE_MB");
    const std::size_t budget = std::size_t(env ? std::atol(env) : 64) << 20;
    auto ds = data::image_dataset_from_directory(
        dir, {.image_size = {180, 180}, .seed = 123, .cache_bytes = budget, .workers = 2, .verbose = false});
    for (index_t b = 0; b < ds.num_batches(); ++b) ds.batch(b);
    WARN("cache budget " << (budget >> 20) << " MiB: " << (ds.cache().bytes_used() >> 20) << " MiB used, "
                         << ds.cache().decodes() << " decodes for " << ds.num_samples() << " files");
    CHECK(ds.cache().bytes_used() <= budget);
}

// ------------------------------------------------------------------------------------------------ out of memory

// Run by the test below in a child process (hidden: "[.]"): caps the address space, then fits and predicts with a
// batch whose first activation (4096 x 65536 floats, 1 GiB) cannot be allocated, and finally fits with a batch
// of 64. Writes what happened to the file named by LUMEN_OOM_REPORT.
TEST_CASE("out-of-memory child", "[.][oom-child]") {
    const char* report_path = std::getenv("LUMEN_OOM_REPORT");
    REQUIRE(report_path != nullptr);
    std::ofstream report(report_path);
    set_num_threads(1);  // no thread stacks to map under the cap
    Sequential<float> m({layers::Input<float>({4}), layers::Dense<float>(65536, {.activation = "relu"}),
                         layers::Dense<float>(1)},
                        {.seed = 1});
    m.compile(optimizers::SGD<float>({.learning_rate = 0.01}), losses::MeanSquaredError<float>());
    const index_t n = 4096;
    Tensor<float> x(Shape{n, 4}), y(Shape{n, 1});
    for (index_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) / 7.f;
    {
        std::ifstream statm("/proc/self/statm");
        std::size_t pages = 0;
        statm >> pages;
        const rlim_t cap = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + (rlim_t{512} << 20);
        const rlimit lim{cap, cap};
        REQUIRE(setrlimit(RLIMIT_AS, &lim) == 0);
    }
    try {
        m.fit(x, y, {.batch_size = n, .epochs = 1, .verbose = 0});
        report << "fit: no error\n";
    } catch (const Error& e) {
        report << "fit: " << e.what() << "\n";
    }
    try {
        m.predict(x, {.batch_size = n, .verbose = 0});
        report << "predict: no error\n";
    } catch (const Error& e) {
        report << "predict: " << e.what() << "\n";
    }
    m.fit(x, y, {.batch_size = 64, .epochs = 1, .verbose = 0});
    report << "small batch: ok\n";
}

TEST_CASE("a batch too large for memory is an Error naming the layer and suggesting a smaller batch_size",
          "[limits][oom]") {
    if (kSanitized) {
        WARN("SKIPPED: sanitizer runtimes abort on a failed allocation instead of throwing std::bad_alloc");
        return;
    }
    const fs::path d = temp_dir("oom");
    const fs::path report = d / "report.txt", log = d / "log.txt";
    const std::string exe = fs::read_symlink("/proc/self/exe").string();
    std::ostringstream cmd;
    cmd << "LUMEN_OOM_REPORT='" << report.string() << "' '" << exe << "' '[oom-child]' > '" << log.string() << "' 2>&1";
    const int status = std::system(cmd.str().c_str());
    INFO("child output:\n" << read_text(log) << "\nreport:\n" << read_text(report));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // no crash, no std::bad_alloc escaping
    std::istringstream lines(read_text(report));
    std::string fit, predict, small;
    std::getline(lines, fit);
    std::getline(lines, predict);
    std::getline(lines, small);
    CHECK_THAT(fit, Catch::StartsWith("fit: ") && Catch::Contains("out of memory in layer Dense \"dense\" (forward)") &&
                        Catch::Contains("at batch size 4096") && Catch::Contains("try a smaller batch_size"));
    CHECK_THAT(predict, Catch::StartsWith("predict: ") && Catch::Contains("out of memory in layer Dense \"dense\"") &&
                            Catch::Contains("at batch size 4096"));
    CHECK(small == "small batch: ok");
}
