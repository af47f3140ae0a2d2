// What a CNN's conv layers learned and see: a grid of the first Conv2D layer's filters, and one image's
// feature maps after every Conv2D layer (each map min-max scaled on its own, as the Keras visualisation
// tutorials do).
//
//   viz::plot_conv_filters(model, "filters.png");
//   viz::plot_feature_maps(model, x_test.slice(0, 1), "feature_maps.png");
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/image.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/viz/Canvas.hpp"
#include "lumen/viz/image_grid.hpp"

namespace lumen::viz {

// Channel `c` of a (H, W, C) slice of `t` at sample n (t is (N, H, W, C)), min-max scaled to 0..255 grey.
template <class T>
data::Image channel_image(const Tensor<T>& t, index_t n, index_t c) {
    const index_t h = t.dim(1), w = t.dim(2);
    double lo = 1e300, hi = -1e300;
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x) {
            lo = std::min(lo, double(t.at(n, y, x, c)));
            hi = std::max(hi, double(t.at(n, y, x, c)));
        }
    const double span = hi > lo ? hi - lo : 1;
    data::Image img(h, w, 1);
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x)
            img.at(y, x, 0) = std::uint8_t(std::lround((double(t.at(n, y, x, c)) - lo) / span * 255));
    return img;
}

// The filters of a Conv2D kernel (kh, kw, in, out): one picture per output filter. With 3 input channels a
// filter is shown in colour (its RGB weights, scaled together); otherwise its first input channel in grey.
template <class T>
std::vector<data::Image> kernel_images(const Tensor<T>& kernel) {
    require(kernel.rank() == 4, "kernel_images: expected a Conv2D kernel (kh, kw, in, out), got ",
            kernel.shape().to_string());
    const index_t kh = kernel.dim(0), kw = kernel.dim(1), cin = kernel.dim(2), cout = kernel.dim(3);
    const index_t shown = cin == 3 ? 3 : 1;
    std::vector<data::Image> out;
    for (index_t f = 0; f < cout; ++f) {
        // kernel.at(i, j, c, f) reads the 4-D layout (kh, kw, in, out) as (n, h, w, c) = (i, j, c, f).
        double lo = 1e300, hi = -1e300;
        for (index_t i = 0; i < kh; ++i)
            for (index_t j = 0; j < kw; ++j)
                for (index_t c = 0; c < shown; ++c) {
                    lo = std::min(lo, double(kernel.at(i, j, c, f)));
                    hi = std::max(hi, double(kernel.at(i, j, c, f)));
                }
        const double span = hi > lo ? hi - lo : 1;
        data::Image img(kh, kw, shown);
        for (index_t i = 0; i < kh; ++i)
            for (index_t j = 0; j < kw; ++j)
                for (index_t c = 0; c < shown; ++c)
                    img.at(i, j, c) = std::uint8_t(std::lround((double(kernel.at(i, j, c, f)) - lo) / span * 255));
        out.push_back(std::move(img));
    }
    return out;
}

template <class T>
std::shared_ptr<layers::Layer<T>> first_conv_layer(const Sequential<T>& model) {
    for (const auto& l : model.layers())
        if (l->class_name() == "Conv2D") return l;
    fail("plot_conv_filters: the model \"", model.name(), "\" has no Conv2D layer");
}

// A grid of the first Conv2D layer's filters, each kernel pixel drawn `scale` pixels wide.
template <class T>
Canvas conv_filters_canvas(const Sequential<T>& model, int scale = 12) {
    const auto layer = first_conv_layer(model);
    const auto ws = layer->weights();
    require(!ws.empty(), "plot_conv_filters: layer \"", layer->name(), "\" is not built");
    return image_grid(kernel_images(ws[0]->value),
                      {.scale = scale, .padding = 4, .title = "Filters of " + layer->name(), .background = kLightGrey});
}

template <class T>
void plot_conv_filters(const Sequential<T>& model, const std::filesystem::path& path, int scale = 12) {
    conv_filters_canvas(model, scale).save(path);
}

// One image's feature maps after each Conv2D layer: a titled grid per layer (at most `max_maps` maps each),
// stacked top to bottom. x is one sample (1, H, W, C) as the model takes it.
template <class T>
Canvas feature_maps_canvas(Sequential<T>& model, const Tensor<T>& x, int max_maps = 32, int cell = 64) {
    require(x.rank() == 4 && x.dim(0) == 1, "plot_feature_maps: expected one sample (1, H, W, C), got ",
            x.shape().to_string());
    std::vector<Canvas> parts;
    Tensor<T> h = x;
    for (const auto& l : model.layers()) {
        h = l->forward(h, false);
        if (l->class_name() != "Conv2D") continue;
        const index_t n = std::min<index_t>(h.dim(3), max_maps);
        std::vector<data::Image> maps;
        for (index_t c = 0; c < n; ++c) maps.push_back(channel_image(h, 0, c));
        const int scale = std::max(1, cell / int(std::max(h.dim(1), h.dim(2))));
        parts.push_back(image_grid(maps, {.columns = 8, .scale = scale, .padding = 3,
                                          .title = l->name() + " " + h.shape().to_string()}));
    }
    require(!parts.empty(), "plot_feature_maps: the model \"", model.name(), "\" has no Conv2D layer");
    int width = 0, height = 0;
    for (const auto& p : parts) {
        width = std::max(width, p.width());
        height += p.height();
    }
    Canvas out(width, height);
    int y = 0;
    for (const auto& p : parts) {
        out.paste(p.image(), 0, y);
        y += p.height();
    }
    return out;
}

template <class T>
void plot_feature_maps(Sequential<T>& model, const Tensor<T>& x, const std::filesystem::path& path, int max_maps = 32) {
    feature_maps_canvas(model, x, max_maps).save(path);
}

}  // namespace lumen::viz
