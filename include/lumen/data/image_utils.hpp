// Keras' image utilities: load_img, img_to_array, array_to_img, save_img, smart_resize (spec §9, §2.4, §3.4).
//
//   auto img = data::load_img("rose.jpg", {.target_size = {180, 180}});   // nearest, like Keras
//   Tensor<float> x = data::img_to_array(img);                             // (180, 180, 3), 0..255
//   data::save_img("out.png", x);                                          // min-max scaled, like Keras
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/image.hpp"
#include "lumen/data/stb.hpp"
#include "lumen/kernels/resize.hpp"

namespace lumen::data {

// Resizes an image to (height, width). `antialias` selects PIL's widened filters (load_img) over TF's plain
// sampling (tf.image.resize); `crop` first takes the centred crop with the target aspect ratio.
inline Image resize_image(const Image& img, index_t height, index_t width, kernels::Interpolation method,
                          bool antialias, bool crop = false) {
    if (img.height == height && img.width == width) return img;
    const Image* src = &img;
    Image cropped;
    if (crop) {
        const kernels::CropBox b = kernels::aspect_crop(img.height, img.width, height, width);
        if (b.height != img.height || b.width != img.width) {
            cropped = Image(b.height, b.width, img.channels);
            for (index_t y = 0; y < b.height; ++y)
                std::copy_n(&img.pixels[std::size_t(((b.top + y) * img.width + b.left) * img.channels)],
                            b.width * img.channels, &cropped.pixels[std::size_t(y * b.width * img.channels)]);
            src = &cropped;
        }
    }
    if (src->height == height && src->width == width) return *src;
    Image out(height, width, img.channels);
    kernels::resize_image(src->pixels.data(), src->height, src->width, src->channels, out.pixels.data(), height,
                          width, method, antialias);
    return out;
}

// load_img's keyword arguments. target_size {0, 0} keeps the file's size.
struct LoadImgOptions {
    std::string color_mode = "rgb";
    std::array<index_t, 2> target_size{0, 0};  // (height, width)
    std::string interpolation = "nearest";
    bool keep_aspect_ratio = false;
    DecodeLimits limits{};
};

// Keras' load_img: decode, convert to color_mode, resize with PIL's rules (nearest by default, aspect ratio not
// kept unless keep_aspect_ratio). Errors name the file.
inline Image load_img(const std::filesystem::path& path, const LoadImgOptions& o = {}) {
    const int channels = color_mode_channels(o.color_mode, "load_img");
    const auto method = kernels::parse_interpolation(o.interpolation, "load_img");
    require((o.target_size[0] == 0) == (o.target_size[1] == 0) && o.target_size[0] >= 0 && o.target_size[1] >= 0,
            "load_img: target_size must be two positive numbers (height, width), got (", o.target_size[0], ", ",
            o.target_size[1], ")");
    Image img = decode_image_file(path, channels, o.limits);
    if (o.target_size[0] == 0) return img;
    return resize_image(img, o.target_size[0], o.target_size[1], method, /*antialias=*/true, o.keep_aspect_ratio);
}

// Keras' img_to_array: (H, W, C) with values 0..255 as T.
template <class T = float>
Tensor<T> img_to_array(const Image& img) {
    Tensor<T> x(Shape{img.height, img.width, img.channels});
    std::transform(img.pixels.begin(), img.pixels.end(), x.begin(), [](std::uint8_t v) { return static_cast<T>(v); });
    return x;
}

// Keras' array_to_img: x is (H, W, C) with C in {1, 3, 4}. With `scale`, values are mapped min..max -> 0..255
// (x - min) / max(x - min) * 255, as Keras does; without, they are clipped to 0..255. Values are rounded.
template <class T>
Image array_to_img(const Tensor<T>& x, bool scale = true) {
    require(x.rank() == 3, "array_to_img: expected an image of rank 3 (height, width, channels), got shape ",
            x.shape().to_string());
    const index_t c = x.dim(2);
    require(c == 1 || c == 3 || c == 4, "array_to_img: channel count must be 1, 3 or 4, got ", c);
    Image img(x.dim(0), x.dim(1), c);
    double lo = 0, span = 1;
    if (scale && x.size() > 0) {
        lo = static_cast<double>(*std::min_element(x.begin(), x.end()));
        const double hi = static_cast<double>(*std::max_element(x.begin(), x.end()));
        span = hi - lo > 0 ? (hi - lo) / 255.0 : 1.0;
    }
    for (index_t i = 0; i < x.size(); ++i) {
        const double v = scale ? (static_cast<double>(x[i]) - lo) / span : static_cast<double>(x[i]);
        img.pixels[std::size_t(i)] = std::uint8_t(std::clamp(std::lround(v), 0L, 255L));
    }
    return img;
}

// Encodes an image by file extension: .png, .jpg/.jpeg (quality 75, PIL's default), .bmp. Errors name the file.
inline void save_img(const std::filesystem::path& path, const Image& img, int jpeg_quality = 75) {
    namespace stb = detail::stb;
    require(!img.empty() && (img.channels == 1 || img.channels == 3 || img.channels == 4), "save_img(\"",
            path.string(), "\"): nothing to save or unsupported channel count ", img.channels);
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    const std::string file = path.string();
    const int w = int(img.width), h = int(img.height), c = int(img.channels);
    int ok = 0;
    if (ext == ".png") ok = stb::stbi_write_png(file.c_str(), w, h, c, img.pixels.data(), w * c);
    else if (ext == ".jpg" || ext == ".jpeg") ok = stb::stbi_write_jpg(file.c_str(), w, h, c, img.pixels.data(), jpeg_quality);
    else if (ext == ".bmp") ok = stb::stbi_write_bmp(file.c_str(), w, h, c, img.pixels.data());
    else fail("save_img(\"", file, "\"): unsupported file format \"", ext, "\"; use .png, .jpg/.jpeg or .bmp");
    require(ok != 0, "save_img(\"", file, "\"): cannot write the file (missing folder or no permission?)");
}

// Keras' save_img(path, x, scale=True): array_to_img then encode.
template <class T>
void save_img(const std::filesystem::path& path, const Tensor<T>& x, bool scale = true, int jpeg_quality = 75) {
    save_img(path, array_to_img(x, scale), jpeg_quality);
}

// Keras' smart_resize: centred crop to the target aspect ratio, then TF bilinear (or the given method).
template <class T>
Tensor<T> smart_resize(const Tensor<T>& x, index_t height, index_t width, const std::string& interpolation = "bilinear") {
    require(x.rank() == 3, "smart_resize: expected (height, width, channels), got ", x.shape().to_string());
    const auto method = kernels::parse_interpolation(interpolation, "smart_resize");
    const kernels::CropBox b = kernels::aspect_crop(x.dim(0), x.dim(1), height, width);
    const index_t C = x.dim(2);
    Tensor<T> crop(Shape{b.height, b.width, C});
    for (index_t y = 0; y < b.height; ++y)
        std::copy_n(x.data() + ((b.top + y) * x.dim(1) + b.left) * C, b.width * C, crop.data() + y * b.width * C);
    Tensor<T> out(Shape{height, width, C});
    kernels::resize_image(crop.data(), b.height, b.width, C, out.data(), height, width, method, false);
    return out;
}

}  // namespace lumen::data
