// keras.callbacks.ModelCheckpoint (save_freq="epoch"), spec §8.
//
// filepath is formatted with `epoch` (1-based) and the epoch-end logs, Python format style:
//   "ckpt.{epoch:02d}-{val_loss:.2f}.lumen" -> "ckpt.03-0.57.lumen"   (specs: d, 0Nd, .Nf, .Ne, .Ng or none)
// save_best_only saves only when the monitored value strictly beats the best so far; 'auto' mode maximises
// when "acc" is in the monitor name (or it starts with "fmeasure"). Saves are atomic (see saving.hpp).
// Messages (verbose > 0):
//   "\nEpoch 3: val_loss improved from 0.61234 to 0.57000, saving model to ckpt.lumen"
//   "\nEpoch 4: val_loss did not improve from 0.57000"        "\nEpoch 5: saving model to ckpt.lumen"
#pragma once

#include <cstdio>
#include <limits>
#include <optional>
#include <string>

#include "lumen/model/callbacks/Callback.hpp"

namespace lumen::callbacks {

struct ModelCheckpointOptions {
    std::string monitor = "val_loss";
    int verbose = 0;
    bool save_best_only = false;
    bool save_weights_only = false;
    std::string mode = "auto";
    std::optional<double> initial_value_threshold = {};
};

// Formats "{name[:spec]}" fields of `pattern` from `epoch` and `logs`; "{{" and "}}" are literal braces.
inline std::string format_checkpoint_path(const std::string& pattern, int epoch_1based, const Logs& logs) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
            out += c;
            ++i;
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        const auto close = pattern.find('}', i);
        require(close != std::string::npos, "ModelCheckpoint: unclosed '{' in filepath \"", pattern, "\"");
        const std::string field = pattern.substr(i + 1, close - i - 1);
        const auto colon = field.find(':');
        const std::string name = field.substr(0, colon);
        std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
        double value = 0;
        if (name == "epoch") value = epoch_1based;
        else if (auto v = logs.find(name)) value = *v;
        else fail("ModelCheckpoint: filepath \"", pattern, "\" uses {", name, "}, which is not in the logs (",
                  detail::available_keys(logs), ")");
        require(spec.find_first_not_of("0123456789.defgx") == std::string::npos, "ModelCheckpoint: format spec \"",
                spec, "\" in \"", pattern, "\" is not supported (use d, 02d, .2f, .3e, .4g)");
        char buf[128];
        if (spec.empty()) spec = name == "epoch" ? "d" : "g";
        if (spec.back() == 'd' || spec.back() == 'x')
            std::snprintf(buf, sizeof buf, ("%" + spec.substr(0, spec.size() - 1) + "ll" + spec.back()).c_str(),
                          static_cast<long long>(value));
        else
            std::snprintf(buf, sizeof buf, ("%" + spec).c_str(), value);
        out += buf;
        i = close;
    }
    return out;
}

template <class T = float>
class ModelCheckpoint : public Callback<T> {
public:
    explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {})
        : filepath_(std::move(filepath)), o_(std::move(options)) {
        require(!filepath_.empty(), "ModelCheckpoint: filepath is empty");
        maximize_ = detail::resolve_mode(
            o_.mode, o_.monitor.find("acc") != std::string::npos || o_.monitor.rfind("fmeasure", 0) == 0,
            "ModelCheckpoint");
        best_ = o_.initial_value_threshold.value_or(maximize_ ? -std::numeric_limits<double>::infinity()
                                                              : std::numeric_limits<double>::infinity());
    }

    void on_epoch_end(int epoch, Logs& logs) override {
        auto& m = this->model();
        const std::string path = format_checkpoint_path(filepath_, epoch + 1, logs);
        if (o_.save_best_only) {
            const auto current = logs.find(o_.monitor);
            if (!current) {
                m.log_stream() << "WARNING: Can save best model only with " << o_.monitor
                               << " available, skipping.\n";
                return;
            }
            if (maximize_ ? *current > best_ : *current < best_) {
                if (o_.verbose > 0)
                    m.log_stream() << "\nEpoch " << epoch + 1 << ": " << o_.monitor << " improved from "
                                   << fixed5(best_) << " to " << fixed5(*current) << ", saving model to " << path
                                   << "\n";
                best_ = *current;
                write(path);
            } else if (o_.verbose > 0) {
                m.log_stream() << "\nEpoch " << epoch + 1 << ": " << o_.monitor << " did not improve from "
                               << fixed5(best_) << "\n";
            }
        } else {
            if (o_.verbose > 0) m.log_stream() << "\nEpoch " << epoch + 1 << ": saving model to " << path << "\n";
            write(path);
        }
    }

    [[nodiscard]] double best() const { return best_; }

private:
    static std::string fixed5(double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.5f", v);
        return buf;
    }
    void write(const std::string& path) {
        if (o_.save_weights_only) this->model().save_weights(path);
        else this->model().save(path, true);
    }

    std::string filepath_;
    ModelCheckpointOptions o_;
    bool maximize_ = false;
    double best_ = 0;
};

}  // namespace lumen::callbacks
