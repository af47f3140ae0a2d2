// lumen::data::Image — a decoded picture as uint8 (height, width, channels) — and decode_image().
//
// Decoding goes through lumen's private stb_image copy (stb.hpp): JPEG (baseline and progressive), PNG (1..16 bit,
// palette, alpha), BMP, GIF (first frame), PNM (binary P5/P6). Before stb sees the bytes, the file is checked
// cheaply for the failures stb would let through silently (a JPEG or PNG cut short decodes to grey rows in stb),
// so every bad file gives an Error naming it: empty file, not an image, truncated, too large, corrupt.
// Colour conversion follows PIL's Image.convert, which Keras' load_img uses:
//   grayscale  L = (19595 R + 38470 G + 7471 B + 2^15) >> 16   (ITU-R 601-2 luma, PIL's fixed point)
//   rgb        grey is replicated, alpha is dropped (no compositing), palettes are expanded
//   rgba       alpha 255 is added when the file has none
// 16-bit PNGs are reduced to 8 bits by stb (v >> 8); Keras keeps 16-bit grayscale at 0..65535 (see docs/data.md).
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"
#include "lumen/data/file.hpp"
#include "lumen/data/stb.hpp"

namespace lumen::data {

// Pixels row-major, channels interleaved: pixel (y, x) channel c is at (y * width + x) * channels + c.
struct Image {
    index_t height = 0;
    index_t width = 0;
    index_t channels = 0;
    std::vector<std::uint8_t> pixels;

    Image() = default;
    Image(index_t h, index_t w, index_t c) : height(h), width(w), channels(c), pixels(std::size_t(h * w * c)) {}
    [[nodiscard]] std::uint8_t& at(index_t y, index_t x, index_t c) { return pixels[std::size_t((y * width + x) * channels + c)]; }
    [[nodiscard]] std::uint8_t at(index_t y, index_t x, index_t c) const { return pixels[std::size_t((y * width + x) * channels + c)]; }
    [[nodiscard]] bool empty() const { return pixels.empty(); }
};

// Keras' color_mode -> channel count: "grayscale" 1, "rgb" 3, "rgba" 4. `who` names the caller in errors.
inline int color_mode_channels(const std::string& color_mode, const std::string& who) {
    if (color_mode == "grayscale") return 1;
    if (color_mode == "rgb") return 3;
    if (color_mode == "rgba") return 4;
    fail(who, ": color_mode must be one of \"grayscale\", \"rgb\", \"rgba\", got \"", color_mode, "\"");
}

// Limits on what decode_image accepts (a forged header must not make lumen allocate gigabytes).
struct DecodeLimits {
    index_t max_pixels = 89478485;  // PIL's Image.MAX_IMAGE_PIXELS (decompression-bomb guard)
    index_t max_side = 65535;
};

namespace detail {

inline std::uint16_t be16(const std::uint8_t* p) { return std::uint16_t((p[0] << 8) | p[1]); }
inline std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

// Walks a JPEG's marker segments and entropy-coded scans up to EOI. Returns "" if the structure is complete,
// else why not. Entropy data never holds FF followed by anything but 00 or a restart marker, so the scan ends
// at the next real marker; running out of bytes first means the file was cut short.
inline std::string jpeg_structure_problem(const std::vector<std::uint8_t>& b, std::size_t pos = 2) {
    const std::size_t n = b.size();
    bool seen_scan = false, progressive = false;
    std::array<std::array<bool, 4>, 2> defined{};  // Huffman tables seen so far: [0 DC / 1 AC][id 0-3]
    while (true) {
        if (pos >= n || b[pos] != 0xFF) {
            if (pos >= n) return seen_scan ? "truncated JPEG (the data ends before the end-of-image marker)"
                                           : "truncated JPEG (the data ends before the first scan)";
            return "corrupt JPEG (expected a marker at byte " + std::to_string(pos) + ")";
        }
        while (pos < n && b[pos] == 0xFF) ++pos;  // fill bytes
        if (pos >= n) return "truncated JPEG (the data ends inside a marker)";
        const std::uint8_t m = b[pos++];
        if (m == 0xD9) return "";                                  // EOI
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;       // standalone markers
        if (pos + 2 > n) return "truncated JPEG (the data ends inside a segment header)";
        const std::size_t len = be16(&b[pos]);
        if (len < 2 || pos + len > n) return "truncated JPEG (a segment is longer than the remaining data)";
        if (m == 0xC4) {  // DHT: stb (2.27) overflows its 256-symbol Huffman arrays on a table with more codes
            // stb reads a whole table (17 bytes + codes) whenever the segment has bytes left, even past its end.
            for (std::size_t t = pos + 2; t < pos + len;) {
                const std::uint8_t q = b[t];  // class (0 DC, 1 AC) << 4 | id; stb refuses class > 1 or id > 3
                if ((q >> 4) <= 1 && (q & 15) <= 3) defined[q >> 4][q & 15] = true;
                std::size_t codes = 0;
                for (std::size_t i = 1; i <= 16; ++i) codes += t + i < n ? b[t + i] : 0;
                if (codes > 256)
                    return "corrupt JPEG (a Huffman table declares " + std::to_string(codes) + " codes; at most 256)";
                t += 17 + codes;
            }
        }
        if (m == 0xC2) progressive = true;
        if (m == 0xDA && pos + 3 <= n) {
            // SOS: every table the scan decodes with must have been defined. stb 2.27 leaves the tables of its
            // (malloc'd) decoder uninitialised, so an undefined one is garbage: a failed assertion in
            // stbi__jpeg_huff_decode, or reads out of bounds where asserts are off (fuzz_image finding).
            const std::size_t ns = b[pos + 2];
            if (6 + 2 * ns <= len) {
                const std::uint8_t ss = b[pos + 3 + 2 * ns], ah = b[pos + 5 + 2 * ns] >> 4;
                const bool dc = !progressive || (ss == 0 && ah == 0), ac = !progressive || ss > 0;
                for (std::size_t c = 0; c < ns; ++c) {
                    const int td = b[pos + 4 + 2 * c] >> 4, ta = b[pos + 4 + 2 * c] & 15;
                    const bool no_dc = dc && td <= 3 && !defined[0][td], no_ac = ac && ta <= 3 && !defined[1][ta];
                    if (no_dc || no_ac)
                        return "corrupt JPEG (a scan uses " + std::string(no_dc ? "DC" : "AC") + " Huffman table " +
                               std::to_string(no_dc ? td : ta) + ", which no DHT segment before it defines)";
                }
            }
        }
        pos += len;
        if (m == 0xDA) {  // SOS: skip the entropy-coded data
            seen_scan = true;
            while (pos + 1 < n && !(b[pos] == 0xFF && b[pos + 1] != 0x00 && !(b[pos + 1] >= 0xD0 && b[pos + 1] <= 0xD7)))
                ++pos;
            if (pos + 1 >= n) return "truncated JPEG (the data ends inside a scan, before the end-of-image marker)";
        }
    }
}

// Walks a PNG's chunks up to IEND (CRCs are not checked). Returns "" if complete, else why not.
inline std::string png_structure_problem(const std::vector<std::uint8_t>& b) {
    std::size_t pos = 8;
    while (true) {
        if (pos + 12 > b.size()) return "truncated PNG (the data ends before the IEND chunk)";
        const std::size_t len = be32(&b[pos]);
        if (len > b.size() || pos + 12 + len > b.size()) return "truncated PNG (a chunk is longer than the remaining data)";
        const bool iend = b[pos + 4] == 'I' && b[pos + 5] == 'E' && b[pos + 6] == 'N' && b[pos + 7] == 'D';
        pos += 12 + len;
        if (iend) return "";
    }
}

// Reads a binary PGM/PPM header's three numbers (width, height, maxval) the way stb does, whitespace and '#'
// comments between them, and returns "" unless one exceeds an int: stb 2.27 accumulates them in an int unchecked
// (signed overflow, undefined behaviour).
inline std::string pnm_header_problem(const std::vector<std::uint8_t>& b) {
    const auto space = [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
    std::size_t pos = 2;
    for (int field = 0; field < 3; ++field) {
        for (;;) {
            while (pos < b.size() && space(b[pos])) ++pos;
            if (pos >= b.size() || b[pos] != '#') break;
            while (pos < b.size() && b[pos] != '\n' && b[pos] != '\r') ++pos;
        }
        std::int64_t value = 0;
        while (pos < b.size() && b[pos] >= '0' && b[pos] <= '9') {
            value = value * 10 + (b[pos++] - '0');
            if (value > INT32_MAX) return "corrupt PNM header (a number beyond 2^31 - 1)";
        }
    }
    return "";
}

// Converts interleaved pixels with `from` channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) to `to` channels.
inline Image convert_channels(const std::uint8_t* src, index_t h, index_t w, int from, int to) {
    Image out(h, w, to);
    const index_t n = h * w;
    for (index_t i = 0; i < n; ++i) {
        const std::uint8_t* s = src + i * from;
        std::uint8_t* d = out.pixels.data() + i * to;
        std::uint8_t r, g, bl, a = 255;
        if (from <= 2) {
            r = g = bl = s[0];
            if (from == 2) a = s[1];
        } else {
            r = s[0];
            g = s[1];
            bl = s[2];
            if (from == 4) a = s[3];
        }
        if (to == 1) {
            d[0] = from <= 2 ? s[0] : std::uint8_t((19595u * r + 38470u * g + 7471u * bl + 0x8000u) >> 16);
        } else {
            d[0] = r;
            d[1] = g;
            d[2] = bl;
            if (to == 4) d[3] = a;
        }
    }
    return out;
}

}  // namespace detail

// Checks image bytes without decoding them: non-empty, a recognised header, within the limits, and for JPEG
// and PNG a complete marker/chunk structure. Throws Error naming `what`; returns (height, width, channels).
inline std::array<int, 3> check_image(const std::vector<std::uint8_t>& bytes, const std::string& what,
                                      const DecodeLimits& limits = {}) {
    namespace stb = detail::stb;
    require(!bytes.empty(), "cannot decode \"", what, "\": empty file (0 bytes)");
    require(bytes.size() < std::size_t(INT32_MAX), "cannot decode \"", what, "\": file larger than 2 GiB");
    // A JPEG's structure is walked before stb reads its header: stb's header parse already builds the Huffman
    // tables that precede the frame, and the walk refuses the ones stb would overflow on.
    // stb takes any run of 0xFF fill bytes before the D8 of the start-of-image marker.
    std::size_t soi = 0;
    while (soi < bytes.size() && bytes[soi] == 0xFF) ++soi;
    if (soi >= 1 && soi + 1 < bytes.size() && bytes[soi] == 0xD8) {
        const std::string problem = detail::jpeg_structure_problem(bytes, soi + 1);
        require(problem.empty(), "cannot decode \"", what, "\": ", problem);
    }
    if (bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6')) {
        const std::string problem = detail::pnm_header_problem(bytes);
        require(problem.empty(), "cannot decode \"", what, "\": ", problem);
    }
    int w = 0, h = 0, file_channels = 0;
    require(stb::stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &file_channels) != 0,
            "cannot decode \"", what,
            "\": not a supported image (JPEG, PNG, BMP, GIF, PPM/PGM) or its header is corrupt");
    require(w > 0 && h > 0 && w <= limits.max_side && h <= limits.max_side &&
                index_t(w) * index_t(h) <= limits.max_pixels,
            "cannot decode \"", what, "\": image of ", w, "x", h, " pixels exceeds the limit (", limits.max_side,
            " per side, ", limits.max_pixels, " pixels)");
    if (bytes.size() >= 8 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G') {
        const std::string problem = detail::png_structure_problem(bytes);
        require(problem.empty(), "cannot decode \"", what, "\": ", problem);
    }
    return {h, w, file_channels};
}

// Decodes image bytes to `channels` (1, 3 or 4; 0 keeps the file's own count, grey+alpha becoming RGBA).
// `what` (usually the path) names the source in every error.
inline Image decode_image(const std::vector<std::uint8_t>& bytes, int channels, const std::string& what,
                          const DecodeLimits& limits = {}) {
    namespace stb = detail::stb;
    require(channels == 0 || channels == 1 || channels == 3 || channels == 4, "decode_image(\"", what,
            "\"): channels must be 0, 1, 3 or 4, got ", channels);
    check_image(bytes, what, limits);
    const int len = static_cast<int>(bytes.size());
    int dw = 0, dh = 0, dc = 0;
    std::uint8_t* px = stb::stbi_load_from_memory(bytes.data(), len, &dw, &dh, &dc, 0);
    require(px != nullptr, "cannot decode \"", what, "\": corrupt image data");
    const int to = channels != 0 ? channels : (dc == 2 ? 4 : dc);
    Image img;
    if (dc == to) {
        img = Image(dh, dw, dc);
        std::copy(px, px + std::size_t(dw) * std::size_t(dh) * std::size_t(dc), img.pixels.begin());
    } else {
        img = detail::convert_channels(px, dh, dw, dc, to);
    }
    std::free(px);
    return img;
}

// Reads and decodes a file; every error names it.
inline Image decode_image_file(const std::filesystem::path& path, int channels, const DecodeLimits& limits = {}) {
    return decode_image(read_file(path), channels, path.string(), limits);
}

}  // namespace lumen::data
