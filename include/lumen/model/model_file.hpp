// The lumen model file: one versioned, little-endian binary file (docs/training.md, "The model file").
//
//   magic        8 bytes  "LUMENMDL"
//   version      u32      kModelFileVersion
//   architecture u64 length + UTF-8 text (class names and get_config() of each layer, compile settings)
//   weights      u64 count, then per weight: str layer name, str weight name, u32 rank, rank x u64 dims,
//                prod(dims) float32 values
//   optimizer    u8 present; if 1: str class name, str config text, i64 iterations, u64 slot count, then
//                per slot: u32 rank, rank x u64 dims, float32 values
//   checksum     u64 FNV-1a of every byte before it
// (str = u32 length + bytes.) Every size read is checked against the documented limits and against the bytes
// left in the file BEFORE anything is allocated, so a truncated or forged file gives an Error naming the file
// and the problem, never a crash or a huge allocation. Writes are atomic: the bytes go to a temporary file in
// the same directory, which is flushed, fsync'ed and then renamed over the target, so a crash mid-save leaves
// the previous file intact.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"
#include "lumen/core/tensor.hpp"

namespace lumen::model {

inline constexpr char kModelFileMagic[8] = {'L', 'U', 'M', 'E', 'N', 'M', 'D', 'L'};
inline constexpr std::uint32_t kModelFileVersion = 1;
// Limits a valid file never comes near; anything beyond them is treated as corruption.
inline constexpr std::uint64_t kMaxNameBytes = 4096;                   // a layer, weight or optimizer name
inline constexpr std::uint64_t kMaxTextBytes = std::uint64_t{64} << 20;  // architecture / optimizer config
inline constexpr std::uint32_t kMaxRank = 8;
inline constexpr std::uint64_t kMaxTensors = std::uint64_t{1} << 20;   // weights or optimizer slots

struct SavedTensor {
    Shape shape;
    std::vector<float> data;  // row-major, prod(shape) values
};
struct SavedWeight {
    std::string layer;  // "conv2d_1"
    std::string name;   // "kernel"
    SavedTensor tensor;
};
struct SavedOptimizer {
    std::string class_name;  // "Adam"
    std::string config;      // text, see encode_config()
    std::int64_t iterations = 0;
    std::vector<SavedTensor> slots;
};
struct ModelFile {
    std::string architecture;
    std::vector<SavedWeight> weights;
    std::optional<SavedOptimizer> optimizer;
};

namespace file_detail {

inline std::uint64_t fnv1a(std::uint64_t h, const unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return h;
}
inline constexpr std::uint64_t kFnvOffset = 0xCBF29CE484222325ull;

// Little-endian byte sink into memory (a model is written whole, then handed to the atomic writer).
class Writer {
public:
    void bytes(const void* p, std::size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        buf_.insert(buf_.end(), b, b + n);
    }
    template <class U>
    void le(U v) {
        static_assert(std::is_integral_v<U>);
        for (std::size_t i = 0; i < sizeof(U); ++i) buf_.push_back(static_cast<unsigned char>((std::uint64_t(v) >> (8 * i)) & 0xFF));
    }
    void str(const std::string& s) {
        le<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
        bytes(s.data(), s.size());
    }
    void tensor(const SavedTensor& t) {
        le<std::uint32_t>(static_cast<std::uint32_t>(t.shape.rank()));
        for (index_t d : t.shape.dims()) le<std::uint64_t>(static_cast<std::uint64_t>(d));
        for (float f : t.data) le<std::uint32_t>(std::bit_cast<std::uint32_t>(f));
    }
    std::vector<unsigned char>& buffer() { return buf_; }

private:
    std::vector<unsigned char> buf_;
};

// Bounded little-endian reader over a file: every read is checked against the bytes left.
class Reader {
public:
    explicit Reader(const std::string& path) : path_(path) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(path, ec);
        if (ec) fail("load: cannot read \"", path, "\": ", ec.message());
        file_ = std::fopen(path.c_str(), "rb");
        if (!file_) fail("load: cannot open \"", path, "\"");
        remaining_ = size;
    }
    ~Reader() {
        if (file_) std::fclose(file_);
    }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    [[noreturn]] void corrupt(const std::string& what) const {
        fail("load: \"", path_, "\" is not a valid lumen model file: ", what);
    }
    [[nodiscard]] std::uint64_t remaining() const { return remaining_; }
    void need(std::uint64_t n, const char* what) const {
        if (n > remaining_)
            corrupt(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes but only " +
                    std::to_string(remaining_) + " remain");
    }
    void bytes(void* p, std::size_t n, const char* what) {
        need(n, what);
        if (n && std::fread(p, 1, n, file_) != n) corrupt(std::string("read error in ") + what);
        hash_ = fnv1a(hash_, static_cast<unsigned char*>(p), n);
        remaining_ -= n;
    }
    template <class U>
    U le(const char* what) {
        unsigned char b[sizeof(U)];
        bytes(b, sizeof(U), what);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < sizeof(U); ++i) v |= std::uint64_t(b[i]) << (8 * i);
        return static_cast<U>(v);
    }
    std::string str(std::uint64_t limit, const char* what) {
        const std::uint64_t n = le<std::uint32_t>(what);
        if (n > limit) corrupt(std::string(what) + " claims " + std::to_string(n) + " bytes (limit " + std::to_string(limit) + ")");
        need(n, what);
        std::string s(static_cast<std::size_t>(n), '\0');
        bytes(s.data(), s.size(), what);
        return s;
    }
    std::string text(const char* what) {
        const std::uint64_t n = le<std::uint64_t>(what);
        if (n > kMaxTextBytes) corrupt(std::string(what) + " claims " + std::to_string(n) + " bytes (limit 64 MiB)");
        need(n, what);
        std::string s(static_cast<std::size_t>(n), '\0');
        bytes(s.data(), s.size(), what);
        return s;
    }
    // A count of records each at least `min_record` bytes long.
    std::uint64_t count(std::uint64_t min_record, const char* what) {
        const std::uint64_t n = le<std::uint64_t>(what);
        if (n > kMaxTensors || n * min_record > remaining_)
            corrupt(std::string(what) + " claims " + std::to_string(n) + " entries, more than the " +
                    std::to_string(remaining_) + " bytes left can hold");
        return n;
    }
    SavedTensor tensor(const std::string& what) {
        const std::uint32_t rank = le<std::uint32_t>("tensor rank");
        if (rank > kMaxRank) corrupt(what + " has rank " + std::to_string(rank) + " (limit " + std::to_string(kMaxRank) + ")");
        std::vector<index_t> dims;
        std::uint64_t elements = 1;
        for (std::uint32_t i = 0; i < rank; ++i) {
            const std::uint64_t d = le<std::uint64_t>("tensor dimension");
            if (d > std::uint64_t(kMaxTensorElements) || (d != 0 && elements > std::uint64_t(kMaxTensorElements) / d))
                corrupt(what + " claims more than 2^34 elements");
            elements *= d;
            dims.push_back(static_cast<index_t>(d));
        }
        if (elements * 4 > remaining_)
            corrupt(what + " of shape " + Shape(dims).to_string() + " needs " + std::to_string(elements * 4) +
                    " bytes but only " + std::to_string(remaining_) + " remain (truncated file?)");
        SavedTensor t{Shape(dims), std::vector<float>(static_cast<std::size_t>(elements))};
        std::vector<unsigned char> raw(static_cast<std::size_t>(elements * 4));
        bytes(raw.data(), raw.size(), "tensor data");
        for (std::size_t i = 0; i < t.data.size(); ++i) {
            std::uint32_t u = 0;
            for (int k = 0; k < 4; ++k) u |= std::uint32_t(raw[4 * i + std::size_t(k)]) << (8 * k);
            t.data[i] = std::bit_cast<float>(u);
        }
        return t;
    }
    [[nodiscard]] std::uint64_t hash() const { return hash_; }

private:
    std::string path_;
    std::FILE* file_ = nullptr;
    std::uint64_t remaining_ = 0;
    std::uint64_t hash_ = kFnvOffset;
};

}  // namespace file_detail

// Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename.
inline void write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path tmp = target.parent_path() / (target.filename().string() + ".tmp." + std::to_string(::getpid()));
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail("save: cannot create \"", tmp.string(), "\" (is the directory of \"", path, "\" writable?)");
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                    ::fsync(::fileno(f)) == 0;
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) {
        std::error_code ec;
        fs::remove(tmp, ec);
        fail("save: writing \"", tmp.string(), "\" failed (disk full?); \"", path, "\" was left unchanged");
    }
    std::error_code ec;
    fs::rename(tmp, target, ec);
    if (ec) {
        fs::remove(tmp, ec);
        fail("save: cannot rename \"", tmp.string(), "\" to \"", path, "\": ", ec.message());
    }
    // Make the rename itself durable.
    const std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
    if (int fd = ::open(dir.c_str(), O_RDONLY); fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

inline void write_model_file(const std::string& path, const ModelFile& m) {
    file_detail::Writer w;
    w.bytes(kModelFileMagic, sizeof kModelFileMagic);
    w.le<std::uint32_t>(kModelFileVersion);
    w.le<std::uint64_t>(m.architecture.size());
    w.bytes(m.architecture.data(), m.architecture.size());
    w.le<std::uint64_t>(m.weights.size());
    for (const auto& sw : m.weights) {
        w.str(sw.layer);
        w.str(sw.name);
        w.tensor(sw.tensor);
    }
    w.le<std::uint8_t>(m.optimizer ? 1 : 0);
    if (m.optimizer) {
        w.str(m.optimizer->class_name);
        w.le<std::uint64_t>(m.optimizer->config.size());
        w.bytes(m.optimizer->config.data(), m.optimizer->config.size());
        w.le<std::int64_t>(m.optimizer->iterations);
        w.le<std::uint64_t>(m.optimizer->slots.size());
        for (const auto& s : m.optimizer->slots) w.tensor(s);
    }
    const std::uint64_t h = file_detail::fnv1a(file_detail::kFnvOffset, w.buffer().data(), w.buffer().size());
    w.le<std::uint64_t>(h);
    write_file_atomically(path, w.buffer());
}

inline ModelFile read_model_file(const std::string& path) {
    file_detail::Reader r(path);
    char magic[8];
    if (r.remaining() < sizeof magic) r.corrupt("the file is only " + std::to_string(r.remaining()) + " bytes long");
    r.bytes(magic, sizeof magic, "magic");
    if (std::memcmp(magic, kModelFileMagic, sizeof magic) != 0)
        r.corrupt("wrong magic (expected \"LUMENMDL\"; was it written by lumen's save()?)");
    const std::uint32_t version = r.le<std::uint32_t>("format version");
    if (version != kModelFileVersion)
        r.corrupt("format version " + std::to_string(version) + " is not supported (this lumen reads version " +
                  std::to_string(kModelFileVersion) + ")");
    ModelFile m;
    m.architecture = r.text("architecture");
    // smallest weight record: two empty strings (8) + rank 0 (4) + one value (4)
    const std::uint64_t n = r.count(16, "weight count");
    for (std::uint64_t i = 0; i < n; ++i) {
        SavedWeight sw;
        sw.layer = r.str(kMaxNameBytes, "layer name");
        sw.name = r.str(kMaxNameBytes, "weight name");
        sw.tensor = r.tensor("weight \"" + sw.layer + "/" + sw.name + "\"");
        m.weights.push_back(std::move(sw));
    }
    const std::uint8_t has_opt = r.le<std::uint8_t>("optimizer flag");
    if (has_opt > 1) r.corrupt("optimizer flag is " + std::to_string(has_opt) + " (expected 0 or 1)");
    if (has_opt) {
        SavedOptimizer o;
        o.class_name = r.str(kMaxNameBytes, "optimizer name");
        o.config = r.text("optimizer config");
        o.iterations = r.le<std::int64_t>("optimizer iterations");
        if (o.iterations < 0) r.corrupt("optimizer iterations is negative");
        const std::uint64_t slots = r.count(8, "optimizer slot count");
        for (std::uint64_t i = 0; i < slots; ++i) o.slots.push_back(r.tensor("optimizer slot " + std::to_string(i)));
        m.optimizer = std::move(o);
    }
    const std::uint64_t expected = r.hash();
    const std::uint64_t stored = r.le<std::uint64_t>("checksum");
    if (stored != expected) r.corrupt("checksum mismatch (the file is damaged)");
    if (r.remaining() != 0) r.corrupt(std::to_string(r.remaining()) + " unexpected bytes after the checksum");
    return m;
}

// Config text: one "key<TAB>value" line per entry; tab, newline and backslash escaped as \t, \n, \\.
inline std::string escape_field(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}
inline std::string unescape_field(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char c = s[++i];
            out += c == 't' ? '\t' : c == 'n' ? '\n' : c;
        } else {
            out += s[i];
        }
    }
    return out;
}
// Splits one line on tabs and unescapes each field.
inline std::vector<std::string> split_fields(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
        const auto tab = line.find('\t', start);
        fields.push_back(unescape_field(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start)));
        if (tab == std::string::npos) break;
        start = tab + 1;
    }
    return fields;
}

template <class T>
inline SavedTensor to_saved(const Tensor<T>& t) {
    SavedTensor s{t.shape(), std::vector<float>(static_cast<std::size_t>(t.size()))};
    for (index_t i = 0; i < t.size(); ++i) s.data[static_cast<std::size_t>(i)] = static_cast<float>(t[i]);
    return s;
}
template <class T>
inline Tensor<T> from_saved(const SavedTensor& s) {
    Tensor<T> t(s.shape);
    for (index_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(s.data[static_cast<std::size_t>(i)]);
    return t;
}

}  // namespace lumen::model
