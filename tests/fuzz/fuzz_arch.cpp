// libFuzzer target: the architecture text of a model file, past the checksum that keeps fuzz_model_file's mutations
// from reaching it: the line parser, every layer class's from_config(), Sequential::build. The file's weights
// section is empty, so load_model's allocation budget (2 x 0 stored values + 4 MiB) refuses any architecture
// that would allocate more: a forged "Dense units=1000000000" is an Error, not a 4 GB allocation. Every
// std::exception is an accepted outcome; a crash, sanitizer report, leak, hang or over-limit allocation is not.
// scripts/fuzz runs it with tests/fuzz/arch.dict (layer classes and config keys).
#include <cstdint>
#include <exception>
#include <string>

#include "lumen/model/saving.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    lumen::model::ModelFile f;
    f.architecture.assign(reinterpret_cast<const char*>(data), size);
    try {
        auto model = lumen::saving_detail::build_from_file<float>(f, "fuzz_arch");
        (void)model;
    } catch (const std::exception&) {
    }
    return 0;
}
