// libFuzzer target: the IDX reader as load_idx calls it — gunzip when the bytes carry the gzip magic, then
// parse_idx. The seed corpus holds raw and gzip'd IDX files, so both the gzip header/trailer checks and the
// IDX header checks see hostile values.
#include <cstdint>
#include <exception>
#include <vector>

#include "lumen/data/file.hpp"
#include "lumen/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint8_t> bytes(data, data + size);
    try {
        if (lumen::data::is_gzip(bytes)) bytes = lumen::data::gunzip(bytes, "fuzz.gz");
        const auto a = lumen::data::parse_idx(bytes, "fuzz");
        std::size_t count = 1;
        for (auto d : a.dims) count *= std::size_t(d);
        if (count != a.data.size()) __builtin_trap();
    } catch (const std::exception&) {
    }
    return 0;
}
