// A grid of images with optional captions — augmented versions of one image, a batch, predictions.
//
//   viz::save_image_grid(images, "augmented.png", {.columns = 3, .captions = {"original", "flip", ...}});
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/image.hpp"
#include "lumen/data/image_utils.hpp"
#include "lumen/viz/Canvas.hpp"

namespace lumen::viz {

struct ImageGridOptions {
    int columns = 0;                    // 0: about square
    int scale = 1;                      // each image pixel becomes scale x scale
    int padding = 6;                    // pixels between cells and around the grid
    std::vector<std::string> captions = {};  // one per image (or empty): drawn under each image
    std::string title = {};             // drawn above the grid
    Color background = kWhite;
};

// Lays the images out row by row; cells are as large as the largest image (after scaling).
inline Canvas image_grid(const std::vector<data::Image>& images, const ImageGridOptions& o = {}) {
    require(!images.empty(), "image_grid: no images");
    require(o.captions.empty() || o.captions.size() == images.size(), "image_grid: ", o.captions.size(),
            " captions for ", images.size(), " images");
    require(o.scale >= 1 && o.padding >= 0, "image_grid: scale must be >= 1 and padding >= 0");
    const int n = int(images.size());
    int cols = o.columns > 0 ? o.columns : 1;
    if (o.columns <= 0)
        while (cols * cols < n) ++cols;
    cols = std::min(cols, n);
    const int rows = (n + cols - 1) / cols;
    int cw = 0, ch = 0;
    for (const auto& im : images) {
        cw = std::max(cw, int(im.width) * o.scale);
        ch = std::max(ch, int(im.height) * o.scale);
    }
    int caption_h = 0;
    if (!o.captions.empty()) {
        caption_h = 2 * kGlyphHeight + 8;
        for (const auto& c : o.captions) cw = std::max(cw, text_width(c, 2));
    }
    const int title_h = o.title.empty() ? 0 : 3 * kGlyphHeight + 12;
    // The title widens the picture rather than being cut off.
    const int grid_w = cols * (cw + o.padding) + o.padding;
    const int width = std::max(grid_w, o.title.empty() ? 0 : text_width(o.title, 3) + 2 * o.padding);
    Canvas canvas(width, title_h + rows * (ch + caption_h + o.padding) + o.padding, o.background);
    const int x0 = (width - grid_w) / 2;
    if (!o.title.empty()) canvas.text_centered(canvas.width() / 2, o.padding + 2, o.title, kBlack, 3);
    for (int i = 0; i < n; ++i) {
        const int cx = x0 + o.padding + (i % cols) * (cw + o.padding);
        const int cy = title_h + o.padding + (i / cols) * (ch + caption_h + o.padding);
        const auto& im = images[std::size_t(i)];
        canvas.paste(im, cx + (cw - int(im.width) * o.scale) / 2, cy + (ch - int(im.height) * o.scale) / 2, o.scale);
        if (!o.captions.empty()) canvas.text_centered(cx + cw / 2, cy + ch + 4, o.captions[std::size_t(i)], kBlack, 2);
    }
    return canvas;
}

inline void save_image_grid(const std::vector<data::Image>& images, const std::filesystem::path& path,
                            const ImageGridOptions& o = {}) {
    image_grid(images, o).save(path);
}

// A batch (N, H, W, C) as images; `scale` maps values min..max of each image to 0..255 (Keras' array_to_img),
// otherwise values are clipped to 0..255.
template <class T>
std::vector<data::Image> batch_images(const Tensor<T>& batch, bool scale = false) {
    require(batch.rank() == 4, "batch_images: expected (N, H, W, C), got ", batch.shape().to_string());
    std::vector<data::Image> out;
    for (index_t i = 0; i < batch.dim(0); ++i)
        out.push_back(data::array_to_img(batch.slice(i, i + 1).reshaped(Shape{batch.dim(1), batch.dim(2), batch.dim(3)}), scale));
    return out;
}

}  // namespace lumen::viz
