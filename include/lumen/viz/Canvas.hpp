// viz::Canvas — an RGB uint8 raster that lumen's pictures are drawn on: lines, rectangles, text in the
// built-in 5x7 font, pasted images. Saved as PNG through data::save_img (lumen's private stb_image_write).
//
//   viz::Canvas c(640, 480);              // white
//   c.line(10, 10, 600, 400, viz::kBlue, 2);
//   c.text(20, 20, "loss", viz::kBlack, 2);
//   c.save("plot.png");
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "lumen/core/error.hpp"
#include "lumen/data/image.hpp"
#include "lumen/data/image_utils.hpp"
#include "lumen/viz/font.hpp"

namespace lumen::viz {

struct Color {
    std::uint8_t r = 0, g = 0, b = 0;
    friend bool operator==(const Color&, const Color&) = default;
};

inline constexpr Color kWhite{255, 255, 255};
inline constexpr Color kBlack{0, 0, 0};
inline constexpr Color kGrey{128, 128, 128};
inline constexpr Color kLightGrey{225, 225, 225};
inline constexpr Color kBlue{31, 119, 180};    // matplotlib's C0: training curves
inline constexpr Color kOrange{255, 127, 14};  // matplotlib's C1: validation curves

// "#1f77b4" for SVG.
inline std::string hex(Color c) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "#";
    for (std::uint8_t v : {c.r, c.g, c.b}) {
        s += digits[v >> 4];
        s += digits[v & 15];
    }
    return s;
}

class Canvas {
public:
    Canvas(int width, int height, Color background = kWhite) : img_(height, width, 3) {
        require(width > 0 && height > 0 && width <= 16384 && height <= 16384, "viz::Canvas: size ", width, "x",
                height, " is out of range (1..16384 each)");
        fill_rect(0, 0, width, height, background);
    }

    [[nodiscard]] int width() const { return int(img_.width); }
    [[nodiscard]] int height() const { return int(img_.height); }
    [[nodiscard]] const data::Image& image() const { return img_; }

    // Pixels outside the canvas are ignored, so shapes may be clipped freely.
    void set(int x, int y, Color c) {
        if (x < 0 || y < 0 || x >= width() || y >= height()) return;
        std::uint8_t* p = &img_.pixels[std::size_t((y * img_.width + x) * 3)];
        p[0] = c.r;
        p[1] = c.g;
        p[2] = c.b;
    }
    [[nodiscard]] Color get(int x, int y) const {
        const std::uint8_t* p = &img_.pixels[std::size_t((y * img_.width + x) * 3)];
        return {p[0], p[1], p[2]};
    }

    // The rectangle [x, x + w) x [y, y + h).
    void fill_rect(int x, int y, int w, int h, Color c) {
        const int x0 = std::max(0, x), y0 = std::max(0, y);
        const int x1 = std::min(width(), x + w), y1 = std::min(height(), y + h);
        for (int yy = y0; yy < y1; ++yy)
            for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
    }
    void rect(int x, int y, int w, int h, Color c, int thickness = 1) {
        fill_rect(x, y, w, thickness, c);
        fill_rect(x, y + h - thickness, w, thickness, c);
        fill_rect(x, y, thickness, h, c);
        fill_rect(x + w - thickness, y, thickness, h, c);
    }

    // Bresenham's line with a square brush `thickness` pixels wide.
    void line(int x0, int y0, int x1, int y1, Color c, int thickness = 1) {
        const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
        const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        const int lo = -(thickness - 1) / 2;
        int err = dx + dy;
        for (;;) {
            fill_rect(x0 + lo, y0 + lo, thickness, thickness, c);
            if (x0 == x1 && y0 == y1) break;
            const int e2 = 2 * err;
            if (e2 >= dy) {
                err += dy;
                x0 += sx;
            }
            if (e2 <= dx) {
                err += dx;
                y0 += sy;
            }
        }
    }
    void dashed_line(int x0, int y0, int x1, int y1, Color c, int dash = 4) {
        const double len = std::hypot(double(x1 - x0), double(y1 - y0));
        const int n = std::max(1, int(len / dash));
        for (int i = 0; i < n; i += 2) {
            const double a = double(i) / n, b = double(std::min(i + 1, n)) / n;
            line(int(std::lround(x0 + a * (x1 - x0))), int(std::lround(y0 + a * (y1 - y0))),
                 int(std::lround(x0 + b * (x1 - x0))), int(std::lround(y0 + b * (y1 - y0))), c);
        }
    }

    // Text with its top-left corner at (x, y); each font pixel becomes a scale x scale block.
    void text(int x, int y, std::string_view s, Color c, int scale = 1) {
        for (char ch : s) {
            const Glyph g = glyph(ch);
            for (int row = 0; row < kGlyphHeight; ++row)
                for (int col = 0; col < kGlyphWidth; ++col)
                    if (g[std::size_t(row)] & (1 << (kGlyphWidth - 1 - col)))
                        fill_rect(x + col * scale, y + row * scale, scale, scale, c);
            x += kGlyphAdvance * scale;
        }
    }
    // Text centred horizontally on cx.
    void text_centered(int cx, int y, std::string_view s, Color c, int scale = 1) {
        text(cx - text_width(s, scale) / 2, y, s, c, scale);
    }
    // Text drawn bottom-to-top (a y-axis title) with its centre at (x + height/2, cy).
    void text_vertical(int x, int cy, std::string_view s, Color c, int scale = 1) {
        int y = cy + text_width(s, scale) / 2;
        for (char ch : s) {
            const Glyph g = glyph(ch);
            for (int row = 0; row < kGlyphHeight; ++row)
                for (int col = 0; col < kGlyphWidth; ++col)
                    if (g[std::size_t(row)] & (1 << (kGlyphWidth - 1 - col)))
                        fill_rect(x + row * scale, y - (col + 1) * scale, scale, scale, c);
            y -= kGlyphAdvance * scale;
        }
    }

    // Pastes `src` (1, 3 or 4 channels; grey is replicated, alpha ignored) with its top-left at (x, y), each
    // source pixel a scale x scale block.
    void paste(const data::Image& src, int x, int y, int scale = 1) {
        require(src.channels == 1 || src.channels == 3 || src.channels == 4, "viz::Canvas::paste: channel count ",
                src.channels, " is not 1, 3 or 4");
        for (index_t yy = 0; yy < src.height; ++yy)
            for (index_t xx = 0; xx < src.width; ++xx) {
                const Color c = src.channels == 1
                                    ? Color{src.at(yy, xx, 0), src.at(yy, xx, 0), src.at(yy, xx, 0)}
                                    : Color{src.at(yy, xx, 0), src.at(yy, xx, 1), src.at(yy, xx, 2)};
                fill_rect(x + int(xx) * scale, y + int(yy) * scale, scale, scale, c);
            }
    }

    // Writes a PNG (or .jpg/.bmp by extension) through data::save_img; errors name the file.
    void save(const std::filesystem::path& path) const { data::save_img(path, img_); }

private:
    data::Image img_;
};

}  // namespace lumen::viz
