// Checking a dataset's files once, up front, so a bad file is named before training rather than crashing it.
//
// Each file either goes straight into the ImageCache (decoded and resized, while the budget lasts) or, beyond
// the budget, has its header and JPEG/PNG structure checked. Files that fail are reported with one warning
// each naming the file and the reason, and left out of the dataset; with `strict` the first one is an Error.
#pragma once

#include <iostream>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/data/ImageCache.hpp"
#include "lumen/data/file.hpp"
#include "lumen/data/image.hpp"

namespace lumen::data::detail {

// Returns, for each file of `cache`, whether it can be used. Runs on lumen::num_threads() threads.
inline std::vector<char> scan_files(ImageCache& cache, bool strict, const std::string& who) {
    const auto n = static_cast<std::ptrdiff_t>(cache.size());
    std::vector<char> ok(static_cast<std::size_t>(n), 1);
    std::vector<std::string> why(static_cast<std::size_t>(n));
    const ImageLoadSpec& spec = cache.spec();
    const std::size_t per_image = std::size_t(spec.height * spec.width * spec.channels);
#pragma omp parallel for schedule(dynamic, 4) num_threads(lumen::num_threads())
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(i);
        try {
            if (cache.bytes_used() + per_image <= cache.budget()) cache.get(k);
            else check_image(read_file(cache.path(k)), cache.path(k).string(), spec.limits);
        } catch (const std::exception& e) {
            ok[k] = 0;
            why[k] = e.what();
        }
    }
    for (std::size_t k = 0; k < ok.size(); ++k) {
        if (ok[k]) continue;
        require(!strict, who, ": ", why[k]);
        std::cerr << "Warning: " << who << ": skipping a file: " << why[k] << "\n";
    }
    return ok;
}

}  // namespace lumen::data::detail
