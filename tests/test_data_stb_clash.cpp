// lumen's private stb and a user's own stb in the same program — here even in the same translation unit,
// the hardest case: lumen compiles stb first (static, in lumen::data::detail::stb), then the user defines
// STB_IMAGE_IMPLEMENTATION and includes stb_image.h / stb_image_write.h for themselves. It must compile
// (no leaked macros or include guards), link (no duplicate symbols) and both copies must work.
// Two lumen translation units in one program are covered by test_odr (tests/odr) through lumen.hpp.
#include <catch2/catch.hpp>

#include <filesystem>
#include <vector>

#include "lumen/data/image_utils.hpp"
#include "lumen/data/idx.hpp"

// The user's own copy, configured their way.
#define STBI_ONLY_PNG
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace fs = std::filesystem;

TEST_CASE("a user's stb and lumen's stb coexist in one translation unit", "[data][stb]") {
    const fs::path p = fs::temp_directory_path() / "lumen_test_stb_clash.png";
    const unsigned char px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    REQUIRE(stbi_write_png(p.string().c_str(), 2, 2, 3, px, 6) != 0);  // the user's writer (global)
    int w = 0, h = 0, c = 0;
    unsigned char* back = stbi_load(p.string().c_str(), &w, &h, &c, 0);  // the user's reader (PNG only)
    REQUIRE(back != nullptr);
    CHECK(std::vector<unsigned char>(back, back + 12) == std::vector<unsigned char>(px, px + 12));
    stbi_image_free(back);
    // lumen's copy is unaffected by the user's STBI_ONLY_PNG: it still reads JPEG and BMP.
    lumen::data::Image img(3, 3, 3);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(20 * i);
    const fs::path bmp = fs::temp_directory_path() / "lumen_test_stb_clash.bmp";
    const fs::path jpg = fs::temp_directory_path() / "lumen_test_stb_clash.jpg";
    lumen::data::save_img(bmp, img);
    lumen::data::save_img(jpg, img);
    CHECK(lumen::data::load_img(bmp).pixels == img.pixels);
    CHECK(lumen::data::load_img(jpg).width == 3);
    CHECK(lumen::data::load_img(p).pixels == std::vector<std::uint8_t>(px, px + 12));
    // The user's copy really is PNG-only (their configuration was not overridden by lumen's either).
    CHECK(stbi_load(bmp.string().c_str(), &w, &h, &c, 0) == nullptr);
}
