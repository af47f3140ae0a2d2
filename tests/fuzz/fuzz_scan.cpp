// libFuzzer target: the directory scanner (list_directory, as image_dataset_from_directory and
// flow_from_directory call it) on hostile names. The input is split on '\n' into relative paths; each becomes
// a file (or, ending in '/', a folder; starting with '@', a symlink to its parent) under a fresh temporary
// folder, which is then listed with both extension sets, with and without following links. Names that the
// filesystem rejects are simply skipped. Checks: every listed file exists and lies under its class folder.
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "lumen/data/directory.hpp"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 2048) return 0;
    static const fs::path root = fs::temp_directory_path() / ("lumen_fuzz_scan_" + std::to_string(::getpid()));
    std::error_code ec;
    fs::remove_all(root, ec);
    fs::create_directories(root, ec);
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::size_t start = 0, made = 0;
    while (start <= text.size() && made < 64) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string name = text.substr(start, end - start);
        start = end + 1;
        if (name.empty() || name.find('\0') != std::string::npos || name.find("..") != std::string::npos ||
            name[0] == '/')
            continue;
        ++made;
        const bool link = name[0] == '@';
        if (link) name = name.substr(1);
        if (name.empty()) continue;
        const fs::path p = root / name;
        if (p.lexically_normal().string().rfind(root.string(), 0) != 0) continue;  // stays inside the root
        fs::create_directories(p.parent_path(), ec);
        if (link) {
            fs::create_directory_symlink(p.parent_path(), p, ec);
        } else if (name.back() == '/') {
            fs::create_directories(p, ec);
        } else {
            std::ofstream(p) << "x";
        }
    }
    for (int mode = 0; mode < 4; ++mode) {
        try {
            const auto& exts = mode & 1 ? lumen::data::image_dataset_extensions()
                                        : lumen::data::flow_from_directory_extensions();
            const auto l = lumen::data::list_directory(root, {}, exts, true, (mode & 2) != 0, "fuzz");
            if (l.filenames.size() != l.labels.size()) __builtin_trap();
            for (std::size_t i = 0; i < l.filenames.size(); ++i) {
                if (l.labels[i] < 0 || std::size_t(l.labels[i]) >= l.class_names.size()) __builtin_trap();
                if (l.filenames[i].rfind(l.class_names[std::size_t(l.labels[i])] + "/", 0) != 0) __builtin_trap();
                if (!fs::exists(root / l.filenames[i], ec)) __builtin_trap();
            }
        } catch (const std::exception&) {
        }
    }
    return 0;
}
