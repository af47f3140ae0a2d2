// model.summary() text, exactly as tf.keras 2.13–2.15 prints it for a Sequential model (spec §6.1, §6.2).
//
// Line length 65, column ends [29, 55, 65]. Each row starts with a space; a field longer than its column
// (26, 23, 10 characters) continues on the next line(s) of the same column, cut after "),", "},", "],"
// or "'," when the visible part holds one. Every line is padded to exactly 65 characters.
//   Model: "sequential"
//   _________________________________________________________________
//    Layer (type)                Output Shape              Param #
//   =================================================================
//    max_pooling2d (MaxPooling2  (None, 90, 90, 16)        0
//    D)
//   (a line of 65 spaces after each layer)
//   =================================================================
//   Total params: 3989285 (15.22 MB)
//   Trainable params: 3989285 (15.22 MB)
//   Non-trainable params: 0 (0.00 Byte)
//   _________________________________________________________________
#pragma once

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "lumen/core/shape.hpp"

namespace lumen::model {

struct SummaryRow {
    std::string name;        // "conv2d_1"
    std::string class_name;  // "Conv2D"
    Shape output_shape;      // per sample: printed "(None, 90, 90, 32)"
    index_t params = 0;
};

// Keras' readable_memory_size: 2 decimals in Byte, KB, MB, GB, TB, PB (steps of 1024).
inline std::string readable_memory_size(double bytes) {
    static constexpr std::array<const char*, 6> units{"Byte", "KB", "MB", "GB", "TB", "PB"};
    char buf[64];
    for (const char* unit : units) {
        if (bytes / 1024 < 1) {
            std::snprintf(buf, sizeof buf, "%.2f %s", bytes, unit);
            return buf;
        }
        bytes /= 1024;
    }
    std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units.back());
    return buf;
}

namespace detail {
// Keras' print_row for a sequential summary: one field per column, wrapped into as many lines as needed.
inline void summary_row(std::string& out, std::array<std::string, 3> fields) {
    static constexpr std::array<std::size_t, 3> positions{29, 55, 65};
    static constexpr std::array<const char*, 4> breaks{"),", "},", "],", "',"};
    auto pending = [&] { return std::any_of(fields.begin(), fields.end(), [](const auto& f) { return !f.empty(); }); };
    while (pending()) {
        std::string line;
        for (std::size_t col = 0; col < 3; ++col) {
            const std::size_t start = col > 0 ? positions[col - 1] : 0;
            const std::size_t space = col != 2 ? 2 : 0;
            std::size_t cutoff = positions[col] - start - space - (col != 2 ? 1 : 0);
            std::string fit = fields[col].substr(0, cutoff);
            std::size_t best = std::string::npos;
            for (const char* b : breaks) {
                const auto at = fit.find(b);
                if (at != std::string::npos) best = std::min(best, at + 2);
            }
            if (best != std::string::npos) {
                cutoff = best;
                fit = fit.substr(0, cutoff);
            }
            if (col == 0) line += ' ';
            line += fit + std::string(space, ' ');
            fields[col] = cutoff < fields[col].size() ? fields[col].substr(cutoff) : std::string();
            if (line.size() < positions[col]) line += std::string(positions[col] - line.size(), ' ');
        }
        out += line + "\n";
    }
}
}  // namespace detail

// The whole summary text, newline-terminated lines. bytes_per_param: 4 for float32 weights.
inline std::string format_summary(const std::string& model_name, const std::vector<SummaryRow>& rows,
                                  index_t trainable, index_t non_trainable, std::size_t bytes_per_param = 4) {
    constexpr std::size_t kWidth = 65;
    std::string out = "Model: \"" + model_name + "\"\n";
    out += std::string(kWidth, '_') + "\n";
    detail::summary_row(out, {"Layer (type)", "Output Shape", "Param #"});
    out += std::string(kWidth, '=') + "\n";
    for (const auto& r : rows) {
        detail::summary_row(out, {r.name + " (" + r.class_name + ")", r.output_shape.to_keras_string(),
                                  std::to_string(r.params)});
        out += std::string(kWidth, ' ') + "\n";
    }
    out += std::string(kWidth, '=') + "\n";
    const index_t total = trainable + non_trainable;
    auto totals = [&](const char* what, index_t n) {
        out += std::string(what) + std::to_string(n) + " (" +
               readable_memory_size(double(n) * double(bytes_per_param)) + ")\n";
    };
    totals("Total params: ", total);
    totals("Trainable params: ", trainable);
    totals("Non-trainable params: ", non_trainable);
    out += std::string(kWidth, '_') + "\n";
    return out;
}

}  // namespace lumen::model
