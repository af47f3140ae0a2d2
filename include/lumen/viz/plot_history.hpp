// Training curves from a History, as in the Keras tutorials' matplotlib figure: two panels side by side,
// "Training and Validation Accuracy" and "Training and Validation Loss", training in blue, validation in
// orange, epochs 1..N on x, nicely rounded ticks on y, a legend inside each panel.
//
//   auto history = model.fit(x, y, {.epochs = 10, .validation_split = 0.1});
//   viz::plot_history(history, "curves.png");   // or "curves.svg"
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/model/History.hpp"
#include "lumen/viz/painters.hpp"

namespace lumen::viz {

struct PlotHistoryOptions {
    int width = 1100;
    int height = 440;
    std::string metric = {};  // empty: the first metric fit() logged (accuracy, binary_accuracy, ...)
};

// Ticks at 1, 2 or 5 x 10^k covering [lo, hi], about `target` of them.
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
    if (!(hi > lo)) {
        const double pad = std::max(1e-3, std::abs(lo) * 0.05);
        lo -= pad;
        hi += pad;
    }
    const double raw = (hi - lo) / std::max(1, target);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> ticks;
    for (double t = std::floor(lo / step) * step; t <= std::ceil(hi / step) * step + step * 1e-9; t += step)
        ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return ticks;
}

// A tick label with just enough decimals for the step.
inline std::string tick_label(double v, double step) {
    const int decimals = std::clamp(int(-std::floor(std::log10(step) + 1e-9)), 0, 6);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

namespace detail {

struct Series {
    std::string label;
    std::vector<double> values;
    Color color;
};

// One chart: title, y-axis name, series over epochs 1..N, drawn in the box (x, y, w, h).
template <class Painter>
void draw_chart(Painter& p, int x, int y, int w, int h, const std::string& title, const std::string& ylabel,
                const std::vector<Series>& series, bool legend_bottom) {
    const int left = x + 88, right = x + w - 16, top = y + 44, bottom = y + h - 56;
    p.text(x + w / 2, y + 10, title, kBlack, 2, Anchor::middle);
    std::size_t n = 0;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& s : series) {
        n = std::max(n, s.values.size());
        for (double v : s.values)
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
    }
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    const std::vector<double> yt = nice_ticks(lo, hi, 5);
    const double ylo = yt.front(), yhi = yt.back(), ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
    // One epoch sits in the middle of [0, 2]; more span 1..N.
    const double xlo = n <= 1 ? 0 : 1, xhi = n <= 1 ? 2 : double(n);
    auto px = [&](double e) { return left + int(std::lround((e - xlo) / (xhi - xlo) * (right - left))); };
    auto py = [&](double v) { return bottom - int(std::lround((v - ylo) / (yhi - ylo) * (bottom - top))); };

    // Grid and y ticks.
    for (double t : yt) {
        p.line(left, py(t), right, py(t), kLightGrey);
        p.line(left - 5, py(t), left, py(t), kBlack);
        p.text(left - 9, py(t) - 7, tick_label(t, ystep), kBlack, 2, Anchor::end);
    }
    // x ticks: every epoch up to 15, else a rounded step.
    std::vector<double> xt;
    if (xhi <= 15) {
        for (int e = 1; e <= int(std::max<std::size_t>(n, 1)); ++e) xt.push_back(e);
    } else {
        for (double t : nice_ticks(xlo, xhi, 8))
            if (t >= xlo && t <= xhi) xt.push_back(t);
    }
    for (double t : xt) {
        p.line(px(t), bottom, px(t), bottom + 5, kBlack);
        p.text(px(t), bottom + 10, tick_label(t, 1), kBlack, 2, Anchor::middle);
    }
    p.rect(left, top, right - left + 1, bottom - top + 1, kBlack);
    p.text(left + (right - left) / 2, bottom + 34, "epoch", kBlack, 2, Anchor::middle);
    p.text_vertical(x + 4, top + (bottom - top) / 2, ylabel, kBlack, 2);

    // Curves: a polyline per run of finite values, a dot per epoch.
    for (const auto& s : series) {
        std::vector<std::pair<int, int>> run;
        auto flush = [&] {
            if (run.size() > 1) p.polyline(run, s.color, 3);
            run.clear();
        };
        for (std::size_t i = 0; i < s.values.size(); ++i) {
            if (!std::isfinite(s.values[i])) {
                flush();
                continue;
            }
            run.emplace_back(px(double(i + 1)), py(s.values[i]));
            p.dot(px(double(i + 1)), py(s.values[i]), 3, s.color);
        }
        flush();
    }

    // Legend.
    int lw = 0;
    for (const auto& s : series) lw = std::max(lw, text_width(s.label, 2));
    lw += 56;
    const int lh = 12 + 24 * int(series.size());
    // The corner whose box covers the fewest samples of the curves (the preferred corner on a tie), so the
    // legend hides as little data as possible.
    auto covered = [&](int bx, int by) {
        int hits = 0;
        for (const auto& s : series)
            for (std::size_t i = 0; i < s.values.size(); ++i) {
                if (!std::isfinite(s.values[i])) continue;
                const bool next = i + 1 < s.values.size() && std::isfinite(s.values[i + 1]);
                for (int k = 0; k < (next ? 16 : 1); ++k) {  // points along the segment to the next epoch
                    const double t = k / 16.0, e = double(i + 1) + t;
                    const double v = next ? s.values[i] + t * (s.values[i + 1] - s.values[i]) : s.values[i];
                    const int qx = px(e), qy = py(v);
                    hits += qx >= bx - 4 && qx <= bx + lw + 4 && qy >= by - 4 && qy <= by + lh + 4;
                }
            }
        return hits;
    };
    const int xr = right - lw - 10, xl = left + 10, yt_ = top + 10, yb = bottom - lh - 10;
    const std::pair<int, int> corners[4] = {{xr, legend_bottom ? yb : yt_}, {xr, legend_bottom ? yt_ : yb},
                                            {xl, legend_bottom ? yb : yt_}, {xl, legend_bottom ? yt_ : yb}};
    int lx = corners[0].first, ly = corners[0].second, best = covered(lx, ly);
    for (const auto& [cx, cy] : corners) {
        if (const int c = covered(cx, cy); c < best) best = c, lx = cx, ly = cy;
    }
    p.fill_rect(lx, ly, lw, lh, kWhite);
    p.rect(lx, ly, lw, lh, kGrey);
    for (std::size_t i = 0; i < series.size(); ++i) {
        const int cy = ly + 18 + 24 * int(i);
        p.line(lx + 8, cy, lx + 36, cy, series[i].color, 3);
        p.text(lx + 44, cy - 7, series[i].label, kBlack, 2);
    }
}

inline std::string pick_metric(const model::History& h, const std::string& wanted) {
    if (!wanted.empty()) {
        require(h.contains(wanted), "plot_history: the history has no \"", wanted, "\"");
        return wanted;
    }
    for (const auto& k : h.keys())
        if (k != "loss" && k.rfind("val_", 0) != 0 && k != "lr" && k != "learning_rate") return k;
    return {};
}

template <class Painter>
void draw_history(Painter& p, const model::History& h, const PlotHistoryOptions& o) {
    require(h.contains("loss"), "plot_history: the history has no \"loss\" (did fit() run an epoch?)");
    const std::string metric = pick_metric(h, o.metric);
    auto series_for = [&](const std::string& key, const std::string& name) {
        std::vector<Series> s{{"Training " + name, h[key], kBlue}};
        if (h.contains("val_" + key)) s.push_back({"Validation " + name, h["val_" + key], kOrange});
        return s;
    };
    const int half = metric.empty() ? o.width : o.width / 2;
    int x = 0;
    if (!metric.empty()) {
        std::string name = metric;
        std::replace(name.begin(), name.end(), '_', ' ');
        draw_chart(p, 0, 0, half, o.height, "Training and Validation " + name, name, series_for(metric, name), true);
        x = half;
    }
    draw_chart(p, x, 0, o.width - x, o.height, "Training and Validation Loss", "loss", series_for("loss", "Loss"),
               false);
}

}  // namespace detail

// The curves as an RGB canvas.
inline Canvas history_canvas(const model::History& h, const PlotHistoryOptions& o = {}) {
    PngPainter p(o.width, o.height);
    detail::draw_history(p, h, o);
    return std::move(p.canvas);
}

// The curves as SVG text (the series appear as <polyline> elements, one per training / validation curve).
inline std::string history_svg(const model::History& h, const PlotHistoryOptions& o = {}) {
    SvgPainter p(o.width, o.height);
    detail::draw_history(p, h, o);
    return p.str();
}

// Writes the curves to `path`: SVG for ".svg", otherwise an image by extension (.png, .jpg, .bmp).
inline void plot_history(const model::History& h, const std::filesystem::path& path, const PlotHistoryOptions& o = {}) {
    if (path.extension() == ".svg") {
        std::ofstream f(path);
        require(f.good(), "plot_history: cannot write \"", path.string(), "\" (missing folder or no permission?)");
        f << history_svg(h, o);
        require(f.good(), "plot_history: error writing \"", path.string(), "\"");
        return;
    }
    history_canvas(h, o).save(path);
}

}  // namespace lumen::viz
