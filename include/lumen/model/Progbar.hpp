// Progbar: Keras 2's progress bar (keras/utils/generic_utils.py Progbar), the text of spec §7.3.
//
// verbose=1, during an epoch (redrawn in place on a terminal):
//   46/92 [==============>...............] - ETA: 5s - loss: 1.2917 - accuracy: 0.4441
// and once the epoch ends (val_ metrics appended):
//   92/92 [==============================] - 12s 130ms/step - loss: 1.2917 - accuracy: 0.4441 - val_loss: 1.0863
// verbose=2, one line per epoch:
//   92/92 - 12s - loss: 1.2917 - accuracy: 0.4441 - 12s/epoch - 130ms/step
// Values are printed as given (fit passes running means already): "%.4f" if |v| > 1e-3, else "%.4e".
// When the output is not a terminal ("dynamic" off) nothing is redrawn: verbose=1 writes only the final line
// of each epoch, so logs stay one clean line per epoch (Keras would write a new line per update instead).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>

#include "lumen/core/shape.hpp"
#include "lumen/model/History.hpp"

namespace lumen::model {

struct ProgbarOptions {
    int width = 30;                       // characters between [ and ]
    int verbose = 1;                      // 0 silent, 1 bar, 2 one line at the end
    double interval = 0.05;               // seconds between redraws (dynamic mode)
    std::string unit_name = "step";
    std::ostream* out = nullptr;          // nullptr: std::cout
    std::optional<bool> dynamic = {};          // redraw in place; default: out is std::cout and stdout is a terminal
    std::function<double()> clock = {};        // seconds; default: steady_clock (tests inject a fake clock)
};

// "%.4f" for |v| > 1e-3, "%.4e" otherwise (as Keras' Progbar).
inline std::string format_metric_value(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, std::abs(v) > 1e-3 ? "%.4f" : "%.4e", v);
    return buf;
}

// Keras' _format_time without its leading space: "130ms/step", "12s/epoch", "85us/step".
inline std::string format_time_per_unit(double seconds, const std::string& unit) {
    char buf[64];
    if (seconds >= 1 || seconds == 0) std::snprintf(buf, sizeof buf, "%.0fs/%s", seconds, unit.c_str());
    else if (seconds >= 1e-3) std::snprintf(buf, sizeof buf, "%.0fms/%s", seconds * 1e3, unit.c_str());
    else std::snprintf(buf, sizeof buf, "%.0fus/%s", seconds * 1e6, unit.c_str());
    return buf;
}

// Keras' ETA text: h:mm:ss above an hour, m:ss above a minute, else whole seconds.
inline std::string format_eta(double eta) {
    char buf[64];
    const long long s = static_cast<long long>(eta);
    if (eta > 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s % 3600) / 60, s % 60);
    else if (eta > 60) std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%llds", s);
    return buf;
}

class Progbar {
public:
    explicit Progbar(index_t target, ProgbarOptions options = {}) : target_(target), o_(std::move(options)) {
        require(target_ >= 1, "Progbar: target must be >= 1, got ", target_);
        if (!o_.out) o_.out = &std::cout;
        if (!o_.clock)
            o_.clock = [] {
                return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
            };
        dynamic_ = o_.dynamic.value_or(o_.out == &std::cout && ::isatty(STDOUT_FILENO) == 1);
        start_ = o_.clock();
    }

    // Shows step `current` of target with the given values; `finalize` ends the line (fit does it at epoch end,
    // after validation, so val_ metrics join the same line).
    void update(index_t current, const Logs& values, bool finalize = false) {
        const double now = o_.clock();
        const double per_step = step_duration(current, now);
        if (o_.verbose == 1) {
            if (!finalize && (!dynamic_ || (now - last_update_ < o_.interval && current < target_))) return;
            last_update_ = now;
            std::string line = bar(current);
            if (finalize) line += " - " + whole_seconds(now - start_) + " " + format_time_per_unit(per_step, o_.unit_name);
            else line += " - ETA: " + format_eta(per_step * double(target_ - current));
            line += metrics_text(values);
            std::string message;
            if (dynamic_) {
                message = std::string(prev_width_, '\b') + "\r";
                const std::size_t width = line.size();
                if (prev_width_ > width) line += std::string(prev_width_ - width, ' ');
                prev_width_ = width;
            }
            *o_.out << message << line << (finalize ? "\n" : "") << std::flush;
        } else if (o_.verbose == 2 && finalize) {
            const double elapsed = now - start_;
            *o_.out << count(current) << " - " << whole_seconds(elapsed) << metrics_text(values) << " - "
                    << format_time_per_unit(elapsed, "epoch") << " - "
                    << format_time_per_unit(elapsed / double(target_), o_.unit_name) << "\n"
                    << std::flush;
        }
    }

    [[nodiscard]] bool dynamic() const { return dynamic_; }

private:
    // " 1/92" with the step right-aligned to the width of the target.
    [[nodiscard]] std::string count(index_t current) const {
        const std::string t = std::to_string(target_), c = std::to_string(current);
        return std::string(t.size() > c.size() ? t.size() - c.size() : 0, ' ') + c + "/" + t;
    }
    [[nodiscard]] std::string bar(index_t current) const {
        std::string s = count(current) + " [";
        const int filled = static_cast<int>(double(o_.width) * double(current) / double(target_));
        if (filled > 0) {
            s += std::string(static_cast<std::size_t>(filled - 1), '=');
            s += current < target_ ? '>' : '=';
        }
        s += std::string(static_cast<std::size_t>(std::max(0, o_.width - filled)), '.');
        return s + "]";
    }
    [[nodiscard]] static std::string metrics_text(const Logs& values) {
        std::string s;
        for (const auto& [k, v] : values) s += " - " + k + ": " + format_metric_value(v);
        return s;
    }
    [[nodiscard]] static std::string whole_seconds(double s) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0fs", s);
        return buf;
    }
    // Seconds per step, excluding the first step (it pays for warm-up) once there is a second one.
    double step_duration(index_t current, double now) {
        double per = current > 0 ? (now - start_) / double(current) : 0;
        if (after_first_ && current > 1) per = (now - *after_first_) / double(current - 1);
        if (current == 1 && !after_first_) after_first_ = now;
        return per;
    }

    index_t target_;
    ProgbarOptions o_;
    bool dynamic_ = false;
    double start_ = 0;
    double last_update_ = -1e300;
    std::optional<double> after_first_;
    std::size_t prev_width_ = 0;
};

}  // namespace lumen::model
