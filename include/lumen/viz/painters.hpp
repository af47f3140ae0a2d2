// Two back ends with the same drawing calls, so one layout routine draws a chart as PNG or as SVG:
// PngPainter rasterises onto a viz::Canvas; SvgPainter appends SVG elements to a string.
// Coordinates are pixels, y down. `scale` on text is the font scale: a 5x7 glyph becomes (5s)x(7s) pixels in
// the PNG, and an SVG font size of about 9s px (same visual height).
#pragma once

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumen/viz/Canvas.hpp"
#include "lumen/viz/font.hpp"

namespace lumen::viz {

enum class Anchor { start, middle, end };

class PngPainter {
public:
    PngPainter(int width, int height) : canvas(width, height) {}
    void fill_rect(int x, int y, int w, int h, Color c) { canvas.fill_rect(x, y, w, h, c); }
    void rect(int x, int y, int w, int h, Color c) { canvas.rect(x, y, w, h, c); }
    void line(int x0, int y0, int x1, int y1, Color c, int thickness = 1) { canvas.line(x0, y0, x1, y1, c, thickness); }
    void dashed_line(int x0, int y0, int x1, int y1, Color c) { canvas.dashed_line(x0, y0, x1, y1, c); }
    // (x, y) is the top of the text; the anchor says which point of its width x is.
    void text(int x, int y, std::string_view s, Color c, int scale, Anchor a = Anchor::start) {
        const int w = text_width(s, scale);
        canvas.text(a == Anchor::start ? x : a == Anchor::middle ? x - w / 2 : x - w, y, s, c, scale);
    }
    void text_vertical(int x, int cy, std::string_view s, Color c, int scale) { canvas.text_vertical(x, cy, s, c, scale); }
    void polyline(const std::vector<std::pair<int, int>>& pts, Color c, int thickness) {
        for (std::size_t i = 1; i < pts.size(); ++i)
            canvas.line(pts[i - 1].first, pts[i - 1].second, pts[i].first, pts[i].second, c, thickness);
    }
    void dot(int x, int y, int radius, Color c) {
        for (int dy = -radius; dy <= radius; ++dy)
            for (int dx = -radius; dx <= radius; ++dx)
                if (dx * dx + dy * dy <= radius * radius) canvas.set(x + dx, y + dy, c);
    }
    Canvas canvas;
};

// Escapes &, <, >, " for SVG text and attributes.
inline std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

class SvgPainter {
public:
    SvgPainter(int width, int height) : width_(width), height_(height) {
        body_ << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height << "\" fill=\"#ffffff\"/>\n";
    }
    void fill_rect(int x, int y, int w, int h, Color c) {
        body_ << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w << "\" height=\"" << h << "\" fill=\""
              << hex(c) << "\"/>\n";
    }
    void rect(int x, int y, int w, int h, Color c) {
        body_ << "<rect x=\"" << x << ".5\" y=\"" << y << ".5\" width=\"" << w - 1 << "\" height=\"" << h - 1
              << "\" fill=\"none\" stroke=\"" << hex(c) << "\"/>\n";
    }
    void line(int x0, int y0, int x1, int y1, Color c, int thickness = 1) {
        body_ << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x1 << "\" y2=\"" << y1 << "\" stroke=\""
              << hex(c) << "\" stroke-width=\"" << thickness << "\"/>\n";
    }
    void dashed_line(int x0, int y0, int x1, int y1, Color c) {
        body_ << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x1 << "\" y2=\"" << y1 << "\" stroke=\""
              << hex(c) << "\" stroke-dasharray=\"4 4\"/>\n";
    }
    void text(int x, int y, std::string_view s, Color c, int scale, Anchor a = Anchor::start) {
        body_ << "<text x=\"" << x << "\" y=\"" << y + kGlyphHeight * scale << "\" font-size=\"" << 9 * scale
              << "\" text-anchor=\"" << (a == Anchor::start ? "start" : a == Anchor::middle ? "middle" : "end")
              << "\" fill=\"" << hex(c) << "\">" << xml_escape(s) << "</text>\n";
    }
    void text_vertical(int x, int cy, std::string_view s, Color c, int scale) {
        const int bx = x + kGlyphHeight * scale;
        body_ << "<text x=\"" << bx << "\" y=\"" << cy << "\" font-size=\"" << 9 * scale
              << "\" text-anchor=\"middle\" transform=\"rotate(-90 " << bx << " " << cy << ")\" fill=\"" << hex(c)
              << "\">" << xml_escape(s) << "</text>\n";
    }
    void polyline(const std::vector<std::pair<int, int>>& pts, Color c, int thickness) {
        body_ << "<polyline fill=\"none\" stroke=\"" << hex(c) << "\" stroke-width=\"" << thickness << "\" points=\"";
        for (std::size_t i = 0; i < pts.size(); ++i) body_ << (i ? " " : "") << pts[i].first << "," << pts[i].second;
        body_ << "\"/>\n";
    }
    void dot(int x, int y, int radius, Color c) {
        body_ << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"" << radius << "\" fill=\"" << hex(c) << "\"/>\n";
    }
    // Raw element text (e.g. a <title> or <desc>), inserted as is.
    void raw(std::string_view s) { body_ << s; }

    [[nodiscard]] std::string str() const {
        std::ostringstream out;
        out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
            << width_ << "\" height=\"" << height_ << "\" viewBox=\"0 0 " << width_ << " " << height_
            << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
            << body_.str() << "</svg>\n";
        return out.str();
    }

private:
    int width_, height_;
    std::ostringstream body_;
};

}  // namespace lumen::viz
