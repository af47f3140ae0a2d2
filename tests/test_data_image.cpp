// Decoding every format the issue lists, colour modes, resizing rules, load_img / img_to_array / save_img.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lumen/data/image_utils.hpp"
#include "support/golden.hpp"

namespace fs = std::filesystem;
using namespace lumen;
using data::Image;
namespace stb = lumen::data::detail::stb;

namespace {
fs::path temp_dir(const char* name) {
    fs::path d = fs::temp_directory_path() / (std::string("lumen_test_image_") + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}
void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
// A w x h test pattern: pixel (y, x) channel c = 10*y + 3*x + 50*c (mod 256).
Image pattern(index_t h, index_t w, index_t c) {
    Image img(h, w, c);
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x)
            for (index_t k = 0; k < c; ++k) img.at(y, x, k) = std::uint8_t((10 * y + 3 * x + 50 * k) % 256);
    return img;
}
void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(std::uint8_t(x >> s));
}
// A PNG with the given IHDR fields and raw scanlines (each starting with filter byte 0); CRCs are zero
// (stb does not check them). PLTE is added when `palette` is not empty.
std::vector<std::uint8_t> make_png(int w, int h, int depth, int color_type, std::vector<std::uint8_t> raw,
                                   const std::vector<std::uint8_t>& palette = {}) {
    std::vector<std::uint8_t> png{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    auto chunk = [&](const char* type, const std::vector<std::uint8_t>& data) {
        put32(png, std::uint32_t(data.size()));
        png.insert(png.end(), type, type + 4);
        png.insert(png.end(), data.begin(), data.end());
        put32(png, 0);
    };
    std::vector<std::uint8_t> ihdr;
    put32(ihdr, std::uint32_t(w));
    put32(ihdr, std::uint32_t(h));
    ihdr.insert(ihdr.end(), {std::uint8_t(depth), std::uint8_t(color_type), 0, 0, 0});
    chunk("IHDR", ihdr);
    if (!palette.empty()) chunk("PLTE", palette);
    int len = 0;
    unsigned char* z = stb::stbi_zlib_compress(raw.data(), int(raw.size()), &len, 8);
    chunk("IDAT", std::vector<std::uint8_t>(z, z + len));
    std::free(z);
    chunk("IEND", {});
    return png;
}
}  // namespace

TEST_CASE("PNG, BMP, JPEG, PPM/PGM, GIF decode to the expected pixels", "[data][image]") {
    const fs::path d = temp_dir("formats");
    const Image rgb = pattern(5, 7, 3);
    data::save_img(d / "a.png", rgb);
    data::save_img(d / "a.bmp", rgb);
    data::save_img(d / "a.jpg", rgb, 100);
    for (const char* f : {"a.png", "a.bmp"}) {
        const Image got = data::decode_image_file(d / f, 3);
        CHECK(got.height == 5);
        CHECK(got.width == 7);
        CHECK(got.pixels == rgb.pixels);
    }
    const Image jpg = data::decode_image_file(d / "a.jpg", 3);
    REQUIRE(jpg.pixels.size() == rgb.pixels.size());
    int worst = 0;
    for (std::size_t i = 0; i < jpg.pixels.size(); ++i) worst = std::max(worst, std::abs(jpg.pixels[i] - rgb.pixels[i]));
    CHECK(worst <= 24);  // lossy, 4:2:0 chroma; but the picture is the same

    // Binary PPM (P6) and PGM (P5).
    std::vector<std::uint8_t> ppm{'P', '6', '\n', '2', ' ', '1', '\n', '2', '5', '5', '\n', 1, 2, 3, 4, 5, 6};
    write_bytes(d / "a.ppm", ppm);
    CHECK(data::decode_image_file(d / "a.ppm", 0).pixels == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6});
    std::vector<std::uint8_t> pgm{'P', '5', ' ', '3', ' ', '1', ' ', '2', '5', '5', '\n', 9, 99, 199};
    write_bytes(d / "a.pgm", pgm);
    const Image g = data::decode_image_file(d / "a.pgm", 0);
    CHECK(g.channels == 1);
    CHECK(g.pixels == std::vector<std::uint8_t>{9, 99, 199});

    // A 1x1 GIF whose single pixel is palette entry 0 = red.
    std::vector<std::uint8_t> gif{'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 255, 0, 0, 0, 0, 0,
                                  0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B};
    write_bytes(d / "a.gif", gif);
    const Image gi = data::decode_image_file(d / "a.gif", 3);
    CHECK(gi.pixels == std::vector<std::uint8_t>{255, 0, 0});
}

TEST_CASE("PNG variants: 16-bit, palette, grey+alpha, RGBA", "[data][image]") {
    const fs::path d = temp_dir("png");
    // 16-bit grey, 2x1: 0x1234, 0xABCD -> stb keeps the high byte.
    write_bytes(d / "g16.png", make_png(2, 1, 16, 0, {0, 0x12, 0x34, 0xAB, 0xCD}));
    CHECK(data::decode_image_file(d / "g16.png", 1).pixels == std::vector<std::uint8_t>{0x12, 0xAB});
    // 8-bit palette, 3x1 with entries red, green, blue.
    write_bytes(d / "pal.png", make_png(3, 1, 8, 3, {0, 2, 1, 0}, {255, 0, 0, 0, 255, 0, 0, 0, 255}));
    CHECK(data::decode_image_file(d / "pal.png", 3).pixels ==
          std::vector<std::uint8_t>{0, 0, 255, 0, 255, 0, 255, 0, 0});
    // Grey + alpha, 1x1: rgb replicates grey and drops alpha, rgba keeps it.
    write_bytes(d / "ga.png", make_png(1, 1, 8, 4, {0, 77, 128}));
    CHECK(data::decode_image_file(d / "ga.png", 3).pixels == std::vector<std::uint8_t>{77, 77, 77});
    CHECK(data::decode_image_file(d / "ga.png", 4).pixels == std::vector<std::uint8_t>{77, 77, 77, 128});
    // RGBA: rgb drops alpha without compositing; grayscale uses PIL's luma.
    write_bytes(d / "rgba.png", make_png(1, 1, 8, 6, {0, 200, 100, 50, 0}));
    CHECK(data::decode_image_file(d / "rgba.png", 3).pixels == std::vector<std::uint8_t>{200, 100, 50});
    const int luma = (19595 * 200 + 38470 * 100 + 7471 * 50 + 0x8000) >> 16;  // 124
    CHECK(data::decode_image_file(d / "rgba.png", 1).pixels == std::vector<std::uint8_t>{std::uint8_t(luma)});
    // 16-bit RGB, 1x1.
    write_bytes(d / "rgb16.png", make_png(1, 1, 16, 2, {0, 0xFF, 0xFF, 0x80, 0x00, 0x01, 0x00}));
    CHECK(data::decode_image_file(d / "rgb16.png", 3).pixels == std::vector<std::uint8_t>{255, 128, 1});
}

TEST_CASE("a progressive JPEG decodes", "[data][image]") {
    const fs::path p = "/usr/share/doc/nodejs/thin-white-stripe.jpg";  // the only progressive JPEG on the box
    if (!fs::exists(p)) {
        WARN("SKIPPED: no progressive JPEG sample at " << p);
        return;
    }
    const Image img = data::decode_image_file(p, 3);
    CHECK(img.width > 0);
    CHECK(img.channels == 3);
}

TEST_CASE("resize: nearest, TF bilinear, PIL bilinear and area on known values", "[data][image][resize]") {
    using kernels::Interpolation;
    // 1x4 -> 1x2
    const std::vector<float> in{0, 10, 20, 30};
    std::vector<float> out(2);
    kernels::resize_image(in.data(), 1, 4, 1, out.data(), 1, 2, Interpolation::nearest, false);
    CHECK(out == std::vector<float>{10, 30});  // floor((i + 0.5) * 2) = 1, 3
    kernels::resize_image(in.data(), 1, 4, 1, out.data(), 1, 2, Interpolation::bilinear, false);
    CHECK(out[0] == Approx(5));  // src = 0.5 -> halfway between 0 and 10
    CHECK(out[1] == Approx(25));
    kernels::resize_image(in.data(), 1, 4, 1, out.data(), 1, 2, Interpolation::area, false);
    CHECK(out[0] == Approx(5));
    CHECK(out[1] == Approx(25));
    // PIL bilinear when shrinking 4 -> 2: triangle of half-width 2 centred at 1.0 over samples at 0.5, 1.5, 2.5:
    // weights 0.75, 0.75, 0.25 -> (0*0.75 + 10*0.75 + 20*0.25) / 1.75
    kernels::resize_image(in.data(), 1, 4, 1, out.data(), 1, 2, Interpolation::bilinear, true);
    CHECK(out[0] == Approx((7.5 + 5.0) / 1.75));
    // Enlarging 2 -> 4 with TF bilinear: src = -0.25, 0.25, 0.75, 1.25 -> 0, 2.5, 7.5, 10
    const std::vector<float> two{0, 10};
    std::vector<float> four(4);
    kernels::resize_image(two.data(), 1, 2, 1, four.data(), 1, 4, Interpolation::bilinear, false);
    CHECK(four[0] == Approx(0));
    CHECK(four[1] == Approx(2.5));
    CHECK(four[2] == Approx(7.5));
    CHECK(four[3] == Approx(10));
    // Same size is the identity for every method.
    for (auto m : {Interpolation::nearest, Interpolation::bilinear, Interpolation::area})
        for (bool aa : {false, true}) {
            std::vector<float> same(4);
            kernels::resize_image(in.data(), 2, 2, 1, same.data(), 2, 2, m, aa);
            CHECK(same == in);
        }
    CHECK_THROWS_WITH(kernels::parse_interpolation("cubic", "load_img"), Catch::Contains("load_img") && Catch::Contains("cubic"));
}

TEST_CASE("aspect crop follows Keras' integer arithmetic", "[data][image][resize]") {
    const auto b = kernels::aspect_crop(100, 300, 50, 50);  // wide image, square target
    CHECK(b.height == 100);
    CHECK(b.width == 100);
    CHECK(b.left == 100);
    CHECK(b.top == 0);
    const auto c = kernels::aspect_crop(7, 5, 2, 3);  // crop_h = min(7, 5*2/3=3), crop_w = min(5, 7*3/2=10)
    CHECK(c.height == 3);
    CHECK(c.width == 5);
    CHECK(c.top == 2);
    // fuzz_image finding: a 5x7 image cropped for a 64x1 target gave a 0-wide crop (W*h/w = 5/64), and
    // resize_image then indexed the empty crop. The crop keeps at least one pixel each way.
    const auto d = kernels::aspect_crop(5, 7, 64, 1);
    CHECK(d.height == 5);
    CHECK(d.width == 1);
    CHECK(d.left == 3);
    const Image tall = data::resize_image(pattern(5, 7, 4), 64, 1, kernels::Interpolation::area, true, /*crop=*/true);
    CHECK(tall.height == 64);
    CHECK(tall.width == 1);
    CHECK(tall.pixels.size() == 64 * 4);
}

TEST_CASE("load_img, img_to_array, array_to_img and save_img round trip", "[data][image]") {
    const fs::path d = temp_dir("utils");
    const Image rgb = pattern(6, 8, 3);
    data::save_img(d / "p.png", rgb);
    const Image back = data::load_img(d / "p.png");
    CHECK(back.pixels == rgb.pixels);
    const Tensor<float> x = data::img_to_array(back);
    CHECK(x.shape() == Shape{6, 8, 3});
    CHECK(x[3] == rgb.pixels[3]);
    const Image small = data::load_img(d / "p.png", {.color_mode = "grayscale", .target_size = {3, 4}});
    CHECK(small.height == 3);
    CHECK(small.width == 4);
    CHECK(small.channels == 1);
    const Image cropped = data::load_img(d / "p.png", {.target_size = {2, 2}, .keep_aspect_ratio = true});
    CHECK(cropped.width == 2);
    // array_to_img scales min..max to 0..255 by default.
    Tensor<float> t(Shape{1, 2, 1}, std::vector<float>{-1.0f, 1.0f});
    CHECK(data::array_to_img(t).pixels == std::vector<std::uint8_t>{0, 255});
    CHECK(data::array_to_img(t, false).pixels == std::vector<std::uint8_t>{0, 1});
    data::save_img(d / "t.jpg", x);
    CHECK(data::load_img(d / "t.jpg").width == 8);
    CHECK_THROWS_WITH(data::save_img(d / "t.tga", x), Catch::Contains("t.tga"));
    CHECK_THROWS_WITH(data::load_img(d / "p.png", {.color_mode = "cmyk"}), Catch::Contains("color_mode"));
}

TEST_CASE("every original photo decodes to the size and channels its README lists", "[data][image][shared]") {
    const fs::path root = lumen::test::shared_dir() / "data" / "originals";
    if (!fs::exists(root)) {
        WARN("SKIPPED: " << root << " is absent");
        return;
    }
    struct Expect {
        const char* path;
        index_t w, h, c;
    };
    const Expect expected[] = {
        {"cats_vs_dogs/train/cats/cat.0.jpg", 500, 374, 3},
        {"cats_vs_dogs/train/cats/cat.835.jpg", 1023, 768, 3},
        {"cats_vs_dogs/validation/dogs/dog.2317.jpg", 1050, 702, 3},
        {"cats_vs_dogs/train/dogs/dog.943.jpg", 90, 99, 3},
        {"cats_vs_dogs/validation/cats/cat.2433.jpg", 59, 41, 3},
        {"flower_photos/tulips/6905876618_12732b74de_b.jpg", 1024, 187, 3},
        {"flower_photos/tulips/2431737309_1468526f8b.jpg", 500, 441, 3},
        {"flower_photos/roses/16484100863_979beacb08.jpg", 500, 333, 3},
        {"flower_photos/roses/12240303_80d87f77a3_n.jpg", 320, 240, 3},
        {"flower_photos/dandelion/10828951106_c3cd47983f.jpg", 500, 333, 3},
        {"caltech_airplanes_motorbikes/motorbikes/image_0512.jpg", 261, 137, 1},
        {"caltech_airplanes_motorbikes/motorbikes/image_0376.jpg", 261, 166, 3},
        {"caltech_airplanes_motorbikes/motorbikes/image_0001.jpg", 262, 161, 3},
        {"caltech_airplanes_motorbikes/airplanes/image_0001.jpg", 398, 164, 3},
        {"caltech_airplanes_motorbikes/airplanes/image_0262.jpg", 387, 494, 3},
    };
    for (const auto& e : expected) {
        INFO(e.path);
        const Image img = data::decode_image_file(root / e.path, 0);
        CHECK(img.width == e.w);
        CHECK(img.height == e.h);
        CHECK(img.channels == e.c);
    }
    // Grey content stored as RGB really has R == G == B (within JPEG chroma noise).
    const Image grey = data::decode_image_file(root / "cats_vs_dogs/train/dogs/dog.943.jpg", 3);
    int worst = 0;
    for (std::size_t i = 0; i < grey.pixels.size(); i += 3)
        worst = std::max({worst, std::abs(grey.pixels[i] - grey.pixels[i + 1]), std::abs(grey.pixels[i] - grey.pixels[i + 2])});
    CHECK(worst <= 3);
}
