// Logs and History: the numbers fit() reports, in the order Keras reports them.
//
// Logs is Keras' `logs` dict: ordered (name, value) pairs, e.g. loss, accuracy, val_loss, val_accuracy, lr.
// The order is insertion order, which is the order the progress bar prints and History records.
// History is Keras' `model.history`: history["loss"] is the list of per-epoch values, epoch the epoch indices.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lumen/core/error.hpp"

namespace lumen::model {

// Python's repr() of a float: shortest round-trip digits, fixed notation for exponents in [-4, 16), else
// scientific with a two-digit exponent ("0.0001", "1e-05", "0.6931471824645996", "1.0"). CSVLogger and the
// learning-rate messages of callbacks print numbers this way, as Keras does.
inline std::string format_python_float(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string sci(buf, res.ptr);  // "-d.ddde+XX"
    const auto e_pos = sci.find('e');
    const int exponent = std::stoi(sci.substr(e_pos + 1));
    std::string mantissa = sci.substr(0, e_pos);
    const bool negative = mantissa[0] == '-';
    if (negative) mantissa.erase(0, 1);
    std::string digits;
    for (char c : mantissa)
        if (c != '.') digits += c;
    std::string out;
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        } else {
            const auto int_len = static_cast<std::size_t>(exponent + 1);
            if (digits.size() <= int_len) out = digits + std::string(int_len - digits.size(), '0') + ".0";
            else out = digits.substr(0, int_len) + "." + digits.substr(int_len);
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char e[16];
        std::snprintf(e, sizeof e, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += e;
    }
    return negative ? "-" + out : out;
}

class Logs {
public:
    Logs() = default;
    Logs(std::initializer_list<std::pair<std::string, double>> items) {
        for (const auto& [k, v] : items) set(k, v);
    }

    // Sets `key` (appended at the end if new, updated in place otherwise).
    void set(const std::string& key, double value) {
        for (auto& [k, v] : items_)
            if (k == key) {
                v = value;
                return;
            }
        items_.emplace_back(key, value);
    }
    [[nodiscard]] bool contains(const std::string& key) const { return find(key).has_value(); }
    [[nodiscard]] std::optional<double> find(const std::string& key) const {
        for (const auto& [k, v] : items_)
            if (k == key) return v;
        return std::nullopt;
    }
    // The value of `key`; throws Error listing the keys that exist.
    [[nodiscard]] double at(const std::string& key) const {
        if (auto v = find(key)) return *v;
        std::string keys;
        for (const auto& [k, v] : items_) keys += (keys.empty() ? "" : ", ") + k;
        fail("logs: no \"", key, "\"; available: ", keys.empty() ? "(none)" : keys);
    }
    [[nodiscard]] const std::vector<std::pair<std::string, double>>& items() const { return items_; }
    [[nodiscard]] bool empty() const { return items_.empty(); }
    [[nodiscard]] auto begin() const { return items_.begin(); }
    [[nodiscard]] auto end() const { return items_.end(); }

private:
    std::vector<std::pair<std::string, double>> items_;
};

class History {
public:
    // Appends the epoch-end logs of epoch `epoch` (0-based).
    void record(int epoch, const Logs& logs) {
        epoch_.push_back(epoch);
        for (const auto& [k, v] : logs) {
            const auto& key = k;  // clang 14 cannot capture a structured binding
            auto it = std::find_if(history_.begin(), history_.end(), [&](const auto& p) { return p.first == key; });
            if (it == history_.end()) {
                history_.emplace_back(k, std::vector<double>{});
                it = history_.end() - 1;
            }
            it->second.push_back(v);
        }
    }

    // history["loss"]: one value per epoch. Throws Error naming the available keys.
    [[nodiscard]] const std::vector<double>& operator[](const std::string& key) const {
        for (const auto& [k, v] : history_)
            if (k == key) return v;
        std::string keys;
        for (const auto& [k, v] : history_) keys += (keys.empty() ? "" : ", ") + k;
        fail("History: no key \"", key, "\"; recorded keys: ", keys.empty() ? "(none: fit ran no epoch)" : keys);
    }
    [[nodiscard]] bool contains(const std::string& key) const {
        for (const auto& [k, v] : history_)
            if (k == key) return true;
        return false;
    }
    // Keys in log order: loss, metrics, val_loss, val_metrics, then callback-written keys such as lr.
    [[nodiscard]] std::vector<std::string> keys() const {
        std::vector<std::string> out;
        for (const auto& [k, v] : history_) out.push_back(k);
        return out;
    }
    // The 0-based epoch indices that ran (starting at initial_epoch).
    [[nodiscard]] const std::vector<int>& epoch() const { return epoch_; }
    // Keras' history.params: verbose, epochs, steps.
    std::map<std::string, long long> params;

private:
    std::vector<std::pair<std::string, std::vector<double>>> history_;
    std::vector<int> epoch_;
};

}  // namespace lumen::model
