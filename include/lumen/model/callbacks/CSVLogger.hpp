// keras.callbacks.CSVLogger: one row per epoch, columns `epoch` (0-based) then the log keys sorted by name;
// when the first epoch has no val_ keys, val_<key> columns are added for every key (missing values: NA).
// Excel dialect: "\r\n" line ends; numbers as Python's repr ("0.6931471824645996"). The header is written
// unless appending to a non-empty file. Each row is flushed, so the file is useful while training runs.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lumen/model/callbacks/Callback.hpp"

namespace lumen::callbacks {

template <class T = float>
class CSVLogger : public Callback<T> {
public:
    explicit CSVLogger(std::string filename, std::string separator = ",", bool append = false)
        : filename_(std::move(filename)), sep_(std::move(separator)), append_(append) {}

    void on_train_begin(Logs&) override {
        namespace fs = std::filesystem;
        std::error_code ec;
        write_header_ = !(append_ && fs::exists(filename_, ec) && fs::file_size(filename_, ec) > 0);
        file_.open(filename_, append_ ? std::ios::app | std::ios::binary : std::ios::trunc | std::ios::binary);
        require(file_.good(), "CSVLogger: cannot open \"", filename_, "\" for writing");
        keys_.clear();
    }

    void on_epoch_end(int epoch, Logs& logs) override {
        if (keys_.empty()) {
            for (const auto& [k, v] : logs) keys_.push_back(k);
            std::sort(keys_.begin(), keys_.end());
            const bool has_val = std::any_of(keys_.begin(), keys_.end(), [](const auto& k) { return k.rfind("val_", 0) == 0; });
            if (!has_val) {
                const auto n = keys_.size();
                for (std::size_t i = 0; i < n; ++i) keys_.push_back("val_" + keys_[i]);
            }
            if (write_header_) {
                file_ << "epoch";
                for (const auto& k : keys_) file_ << sep_ << k;
                file_ << "\r\n";
            }
        }
        file_ << epoch;
        for (const auto& k : keys_) {
            const auto v = logs.find(k);
            file_ << sep_ << (v ? model::format_python_float(*v) : "NA");
        }
        file_ << "\r\n" << std::flush;
        require(file_.good(), "CSVLogger: writing \"", filename_, "\" failed");
    }

    void on_train_end(Logs&) override { file_.close(); }

private:
    std::string filename_;
    std::string sep_;
    bool append_;
    bool write_header_ = true;
    std::ofstream file_;
    std::vector<std::string> keys_;
};

}  // namespace lumen::callbacks
