// libFuzzer target: the image path as lumen's loaders call it — check_image, decode_image to 0/1/3/4 channels
// (stb decode + channel conversion) and resize_image with each interpolation, crop and antialias choice.
// The first input byte picks the options; the rest are the file bytes. Decode limits are lowered so the fuzzer
// explores rather than allocating large images (the default limits are exercised by test_limits).
#include <array>
#include <cstdint>
#include <exception>
#include <vector>

#include "lumen/data/image.hpp"
#include "lumen/data/image_utils.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t opt = data[0];
    const std::vector<std::uint8_t> bytes(data + 1, data + size);
    constexpr std::array<int, 4> channels{0, 1, 3, 4};
    constexpr std::array<lumen::kernels::Interpolation, 3> methods{lumen::kernels::Interpolation::nearest,
                                                                   lumen::kernels::Interpolation::bilinear,
                                                                   lumen::kernels::Interpolation::area};
    lumen::data::DecodeLimits limits;
    limits.max_pixels = 1 << 20;
    limits.max_side = 4096;
    try {
        const auto img = lumen::data::decode_image(bytes, channels[opt & 3], "fuzz", limits);
        const lumen::index_t h = 1 + ((opt >> 2) & 7) * 9, w = 1 + ((opt >> 5) & 3) * 13;
        const auto out = lumen::data::resize_image(img, h, w, methods[(opt >> 2) % 3], (opt & 0x40) != 0,
                                                   (opt & 0x80) != 0);
        if (out.pixels.size() != std::size_t(h * w * img.channels)) __builtin_trap();
    } catch (const std::exception&) {
    }
    return 0;
}
