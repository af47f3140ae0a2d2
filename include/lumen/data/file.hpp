// Whole-file reads and gzip inflation for the data pipeline.
//
// read_file() reports a missing or unreadable file as an Error naming it; gunzip() inflates a .gz member with
// stb_image's zlib decoder, so lumen reads Debian's gzip'd IDX files without linking zlib.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/data/stb.hpp"

namespace lumen::data {

// The bytes of a file. Throws Error naming the file if it is missing, a directory or unreadable.
inline std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    require(!ec && std::filesystem::exists(status), "cannot read \"", path.string(), "\": no such file");
    require(!std::filesystem::is_directory(status), "cannot read \"", path.string(), "\": it is a directory");
    std::ifstream in(path, std::ios::binary);
    require(in.good(), "cannot read \"", path.string(), "\": permission denied or I/O error");
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    require(size >= 0, "cannot read \"", path.string(), "\": cannot determine its size");
    in.seekg(0, std::ios::beg);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
    require(in.good() || in.eof(), "cannot read \"", path.string(), "\": I/O error after ", in.gcount(), " bytes");
    return bytes;
}

// True if the bytes start with the gzip magic 1f 8b.
inline bool is_gzip(const std::vector<std::uint8_t>& bytes) {
    return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// Inflates one gzip member (RFC 1952): header, raw deflate stream, CRC32 + ISIZE trailer. `what` names the
// source in errors. The output size is checked against ISIZE (modulo 2^32), which catches truncation.
inline std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& gz, const std::string& what) {
    require(gz.size() >= 18 && is_gzip(gz), "\"", what, "\": not a gzip file (too short or bad magic)");
    require(gz[2] == 8, "\"", what, "\": gzip compression method ", int(gz[2]), " is not deflate");
    const std::uint8_t flags = gz[3];
    std::size_t pos = 10;
    auto need = [&](std::size_t n) {
        require(pos + n <= gz.size() - 8, "\"", what, "\": truncated gzip header");
    };
    if (flags & 0x04) {  // FEXTRA
        need(2);
        const std::size_t xlen = gz[pos] | (std::size_t(gz[pos + 1]) << 8);
        pos += 2;
        need(xlen);
        pos += xlen;
    }
    for (std::uint8_t bit : {std::uint8_t{0x08}, std::uint8_t{0x10}}) {  // FNAME, FCOMMENT: zero-terminated
        if (!(flags & bit)) continue;
        while (pos < gz.size() - 8 && gz[pos] != 0) ++pos;
        need(1);
        ++pos;
    }
    if (flags & 0x02) {  // FHCRC
        need(2);
        pos += 2;
    }
    const std::size_t n = gz.size();
    const std::uint32_t isize = std::uint32_t(gz[n - 4]) | (std::uint32_t(gz[n - 3]) << 8) |
                                (std::uint32_t(gz[n - 2]) << 16) | (std::uint32_t(gz[n - 1]) << 24);
    // The 8 trailer bytes are handed to the inflater too: stb's bit reader may look a few bytes past the
    // final deflate block (it errors on an exact end), and it stops at the final block anyway.
    const std::size_t deflate_len = n - pos;
    require(deflate_len < std::size_t(INT32_MAX), "\"", what, "\": gzip stream larger than 2 GiB");
    // ISIZE sizes the first allocation, so a forged trailer must not reach it: deflate expands at most 1032:1,
    // and stb takes the guess as an int (a value >= 2^31 would turn negative, then huge).
    require(std::uint64_t{isize} <= std::uint64_t{deflate_len} * 1032, "\"", what, "\": gzip trailer claims ",
            isize, " bytes, more than deflate can produce from ", deflate_len, " bytes (corrupt or forged file)");
    const auto guess = static_cast<int>(std::clamp<std::uint32_t>(isize, 1024, std::uint32_t{1} << 30));
    int out_len = 0;
    char* out = detail::stb::stbi_zlib_decode_malloc_guesssize_headerflag(
        reinterpret_cast<const char*>(gz.data() + pos), static_cast<int>(deflate_len), guess, &out_len, 0);
    require(out != nullptr, "\"", what, "\": corrupt or truncated gzip data");
    std::vector<std::uint8_t> result(reinterpret_cast<std::uint8_t*>(out), reinterpret_cast<std::uint8_t*>(out) + out_len);
    std::free(out);
    require(static_cast<std::uint32_t>(out_len) == isize, "\"", what, "\": gzip data inflates to ", out_len,
            " bytes but its trailer says ", isize, " (truncated or corrupt)");
    return result;
}

}  // namespace lumen::data
