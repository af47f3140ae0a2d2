// Listing an image folder the way Keras does (spec §2.1, §3.2): class sub-folders in code-point order, each
// walked recursively with directories visited in sorted path order and files sorted by name within each, kept
// if their lower-cased name ends with an allowed extension.
//   flow_from_directory:          all sub-folders are classes (dot-folders too); png jpg jpeg bmp ppm tif tiff
//   image_dataset_from_directory: dot-folders skipped;                           .bmp .gif .jpeg .jpg .png
// Symbolic links to folders are followed only with follow_links; a folder reached twice (a symlink loop) is
// walked once, so a loop cannot hang the listing.
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"

namespace lumen::data {

// The files of a labelled folder: paths relative to the root (with '/'), labels by class index.
struct DirectoryListing {
    std::vector<std::string> class_names;
    std::vector<std::string> filenames;  // "daisy/123.jpg"
    std::vector<index_t> labels;
    std::vector<std::string> empty_classes;  // class folders without a single accepted file
};

inline const std::vector<std::string>& flow_from_directory_extensions() {
    static const std::vector<std::string> e{"png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff"};
    return e;
}
inline const std::vector<std::string>& image_dataset_extensions() {
    static const std::vector<std::string> e{".bmp", ".gif", ".jpeg", ".jpg", ".png"};
    return e;
}

namespace detail {

inline bool has_allowed_extension(const std::string& name, const std::vector<std::string>& exts) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const auto& e : exts)
        if (lower.size() >= e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) return true;
    return false;
}

// Every directory under `dir` (itself included) as (relative path with '/', absolute path), like os.walk.
inline void walk_dirs(const std::filesystem::path& dir, const std::string& rel, bool follow_links,
                      std::set<std::filesystem::path>& seen, std::vector<std::pair<std::string, std::filesystem::path>>& out) {
    std::error_code ec;
    const auto canonical = std::filesystem::canonical(dir, ec);
    if (ec || !seen.insert(canonical).second) return;  // unreadable, or already walked (symlink loop)
    out.emplace_back(rel, dir);
    for (const auto& entry : std::filesystem::directory_iterator(dir, std::filesystem::directory_options::skip_permission_denied, ec)) {
        std::error_code e2;
        if (!entry.is_directory(e2)) continue;
        if (entry.is_symlink(e2) && !follow_links) continue;
        walk_dirs(entry.path(), rel + "/" + entry.path().filename().string(), follow_links, seen, out);
    }
}

// Accepted files under one class folder, in Keras' order, relative to the dataset root.
inline std::vector<std::string> list_class_files(const std::filesystem::path& root, const std::string& cls,
                                                 const std::vector<std::string>& exts, bool follow_links) {
    std::vector<std::pair<std::string, std::filesystem::path>> dirs;
    std::set<std::filesystem::path> seen;
    walk_dirs(root / cls, cls, follow_links, seen, dirs);
    std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> files;
    for (const auto& [rel, abs] : dirs) {
        std::vector<std::string> names;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(abs, std::filesystem::directory_options::skip_permission_denied, ec)) {
            std::error_code e2;
            if (entry.is_directory(e2)) continue;
            const std::string name = entry.path().filename().string();
            if (has_allowed_extension(name, exts)) names.push_back(name);
        }
        std::sort(names.begin(), names.end());
        for (const auto& n : names) files.push_back(rel + "/" + n);
    }
    return files;
}

}  // namespace detail

// Lists `directory`. `classes` empty: every sub-folder (skipping dot-folders if skip_hidden) in sorted order;
// otherwise exactly those, in the given order. `who` names the caller in errors.
inline DirectoryListing list_directory(const std::filesystem::path& directory, std::vector<std::string> classes,
                                       const std::vector<std::string>& exts, bool skip_hidden, bool follow_links,
                                       const std::string& who) {
    std::error_code ec;
    require(std::filesystem::is_directory(directory, ec), who, ": directory \"", directory.string(),
            "\" does not exist or is not a folder");
    DirectoryListing out;
    if (classes.empty()) {
        for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
            std::error_code e2;
            if (!entry.is_directory(e2)) continue;
            const std::string name = entry.path().filename().string();
            if (skip_hidden && !name.empty() && name[0] == '.') continue;
            classes.push_back(name);
        }
        std::sort(classes.begin(), classes.end());
    } else {
        for (const auto& c : classes)
            require(std::filesystem::is_directory(directory / c, ec), who, ": class folder \"",
                    (directory / c).string(), "\" does not exist");
    }
    out.class_names = classes;
    for (std::size_t k = 0; k < classes.size(); ++k) {
        const auto files = detail::list_class_files(directory, classes[k], exts, follow_links);
        if (files.empty()) out.empty_classes.push_back(classes[k]);
        for (const auto& f : files) {
            out.filenames.push_back(f);
            out.labels.push_back(index_t(k));
        }
    }
    return out;
}

}  // namespace lumen::data
