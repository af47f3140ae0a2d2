// libFuzzer target: lumen::load_model on arbitrary bytes. The model-file reader only reads from a path, so each
// input is written to a per-process temporary file first. Any lumen::Error (or std::exception from a parse such
// as std::stoull) is an accepted outcome; a crash, sanitizer report, leak, hang or over-limit allocation is not.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "lumen/model/saving.hpp"

namespace {
const std::string& temp_path() {
    static const std::string p = "/tmp/lumen_fuzz_model_" + std::to_string(::getpid()) + ".lmdl";
    return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    {
        std::FILE* f = std::fopen(temp_path().c_str(), "wb");
        if (f == nullptr) return 0;
        if (size > 0) std::fwrite(data, 1, size, f);
        std::fclose(f);
    }
    try {
        auto model = lumen::load_model<float>(temp_path());
        (void)model;
    } catch (const std::exception&) {
    }
    return 0;
}
