// The confusion matrix as a picture: rows are true classes, columns predicted ones, each cell shaded by the
// fraction of its row (white 0 -> dark blue 1) and labelled with its count.
//
//   auto cm = viz::confusion_counts(truth, predicted, 10);
//   viz::plot_confusion_matrix(cm, class_names, "confusion.png");
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/viz/Canvas.hpp"

namespace lumen::viz {

using ConfusionMatrix = std::vector<std::vector<long>>;  // [true class][predicted class]

// Counts (true, predicted) pairs; classes are 0..num_classes-1. Errors name the offending sample.
inline ConfusionMatrix confusion_counts(const std::vector<int>& truth, const std::vector<int>& predicted,
                                        int num_classes) {
    require(truth.size() == predicted.size(), "confusion_counts: ", truth.size(), " true labels but ",
            predicted.size(), " predictions");
    require(num_classes >= 1, "confusion_counts: num_classes must be >= 1, got ", num_classes);
    ConfusionMatrix m(std::size_t(num_classes), std::vector<long>(std::size_t(num_classes), 0));
    for (std::size_t i = 0; i < truth.size(); ++i) {
        require(truth[i] >= 0 && truth[i] < num_classes && predicted[i] >= 0 && predicted[i] < num_classes,
                "confusion_counts: sample ", i, " has true class ", truth[i], " and predicted class ", predicted[i],
                "; both must be in [0, ", num_classes, ")");
        ++m[std::size_t(truth[i])][std::size_t(predicted[i])];
    }
    return m;
}

// The cell colour for a row fraction f in [0, 1]: white to matplotlib's "Blues" dark end (8, 48, 107).
inline Color blues(double f) {
    f = std::clamp(f, 0.0, 1.0);
    auto mix = [f](int a, int b) { return std::uint8_t(std::lround(a + (b - a) * f)); };
    return {mix(247, 8), mix(251, 48), mix(255, 107)};
}

struct ConfusionMatrixOptions {
    int cell = 56;  // cell side in pixels
    std::string title = "Confusion matrix";
};

inline Canvas confusion_matrix_canvas(const ConfusionMatrix& m, const std::vector<std::string>& class_names,
                                      const ConfusionMatrixOptions& o = {}) {
    const int k = int(m.size());
    require(k >= 1, "confusion_matrix: empty matrix");
    for (const auto& row : m) require(int(row.size()) == k, "confusion_matrix: the matrix must be square");
    require(class_names.empty() || int(class_names.size()) == k, "confusion_matrix: ", class_names.size(),
            " class names for ", k, " classes");
    std::vector<std::string> labels;
    for (int i = 0; i < k; ++i)
        labels.push_back(std::to_string(i) + " " + (class_names.empty() ? "" : class_names[std::size_t(i)]));
    int label_w = 0;
    for (const auto& l : labels) label_w = std::max(label_w, text_width(l, 2));
    const int c = o.cell, left = 40 + label_w + 12, top = 3 * kGlyphHeight + 70;
    Canvas canvas(left + k * c + 20, top + k * c + 44);
    canvas.text_centered(canvas.width() / 2, 10, o.title, kBlack, 3);
    canvas.text_centered(left + k * c / 2, top - 44, "predicted", kBlack, 2);
    canvas.text_vertical(8, top + k * c / 2, "true", kBlack, 2);
    for (int i = 0; i < k; ++i) {
        long row_total = 0;
        for (long v : m[std::size_t(i)]) row_total += v;
        canvas.text(40, top + i * c + c / 2 - kGlyphHeight, labels[std::size_t(i)], kBlack, 2);
        canvas.text_centered(left + i * c + c / 2, top - 22, std::to_string(i), kBlack, 2);
        for (int j = 0; j < k; ++j) {
            const long v = m[std::size_t(i)][std::size_t(j)];
            const double f = row_total > 0 ? double(v) / double(row_total) : 0.0;
            canvas.fill_rect(left + j * c, top + i * c, c, c, blues(f));
            const std::string s = std::to_string(v);
            const int scale = text_width(s, 2) <= c - 6 ? 2 : 1;
            canvas.text_centered(left + j * c + c / 2, top + i * c + c / 2 - kGlyphHeight * scale / 2, s,
                                 f > 0.5 ? kWhite : kBlack, scale);
        }
    }
    for (int i = 0; i <= k; ++i) {
        canvas.line(left, top + i * c, left + k * c, top + i * c, kGrey);
        canvas.line(left + i * c, top, left + i * c, top + k * c, kGrey);
    }
    return canvas;
}

inline void plot_confusion_matrix(const ConfusionMatrix& m, const std::vector<std::string>& class_names,
                                  const std::filesystem::path& path, const ConfusionMatrixOptions& o = {}) {
    confusion_matrix_canvas(m, class_names, o).save(path);
}

}  // namespace lumen::viz
