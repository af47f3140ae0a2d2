// DirectoryIterator — what ImageDataGenerator::flow_from_directory returns (spec §2).
//
// Classes are the sorted sub-folders (or `classes`, in that order); files are listed recursively in Keras'
// order and split per class by position: "validation" takes the first int(v*n) files of each class,
// "training" the rest. Batches follow KerasIterator (permutation per epoch, numpy seeding, short last batch).
// Images are decoded once, resized with PIL's rules (nearest by default) and cached as uint8; augmentation
// runs per batch.
#pragma once

#include <array>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/ImageCache.hpp"
#include "lumen/data/ImageDataGenerator.hpp"
#include "lumen/data/KerasIterator.hpp"
#include "lumen/data/directory.hpp"
#include "lumen/data/scan.hpp"

namespace lumen::data {

struct FlowFromDirectoryOptions {
    std::array<index_t, 2> target_size{256, 256};  // (height, width)
    std::string color_mode = "rgb";
    std::vector<std::string> classes{};
    std::string class_mode = "categorical";  // categorical, binary, sparse, input, "" (None)
    index_t batch_size = 32;
    bool shuffle = true;
    std::optional<std::uint32_t> seed{};
    std::string subset{};  // "", "training", "validation"
    std::string interpolation = "nearest";
    bool keep_aspect_ratio = false;
    bool follow_links = false;
    // lumen's own knobs
    std::size_t cache_bytes = std::size_t(1) << 30;  // decoded uint8 images kept in memory; beyond, streamed
    int workers = -1;                                // prefetch threads; -1 = lumen::num_threads(), 0 = none
    bool strict = false;                             // a bad file is an Error instead of a skipped warning
    bool verbose = true;                             // print "Found N images belonging to K classes."
    DecodeLimits limits{};
};

template <class T = float>
class DirectoryIterator : public KerasIterator<T> {
public:
    DirectoryIterator(const std::filesystem::path& directory, std::shared_ptr<const ImageDataGenerator<T>> generator,
                      const FlowFromDirectoryOptions& o)
        : DirectoryIterator(prepare(directory, *generator, o), generator, o) {}
    ~DirectoryIterator() override { this->stop_workers(); }

    [[nodiscard]] index_t samples() const { return index_t(filenames_.size()); }
    [[nodiscard]] index_t num_classes() const { return index_t(class_names_.size()); }
    [[nodiscard]] const std::map<std::string, index_t>& class_indices() const { return class_indices_; }
    [[nodiscard]] const std::vector<std::string>& filenames() const { return filenames_; }  // "daisy/1.jpg"
    [[nodiscard]] std::vector<std::filesystem::path> filepaths() const {
        std::vector<std::filesystem::path> p;
        for (const auto& f : filenames_) p.push_back(directory_ / f);
        return p;
    }
    [[nodiscard]] const std::vector<index_t>& classes() const { return labels_; }  // label of each file
    [[nodiscard]] const std::vector<index_t>& labels() const { return labels_; }
    [[nodiscard]] Shape image_shape() const { return Shape{height_, width_, channels_}; }
    [[nodiscard]] const ImageCache& cache() const { return *cache_; }

protected:
    Tensor<T> load(index_t j) override {
        const Image img = cache_->get(std::size_t(cache_index_[std::size_t(j)]));
        Tensor<T> x(Shape{img.height, img.width, img.channels});
        for (index_t k = 0; k < x.size(); ++k) x[k] = static_cast<T>(img.pixels[std::size_t(k)]);
        return x;
    }
    Tensor<T> targets(const std::vector<index_t>& idx, const Tensor<T>& x) override {
        const auto B = index_t(idx.size());
        if (class_mode_.empty()) return {};
        if (class_mode_ == "input") return x;
        if (class_mode_ == "categorical") {
            Tensor<T> y(Shape{B, num_classes()});
            for (index_t k = 0; k < B; ++k) y.at(k, labels_[std::size_t(idx[std::size_t(k)])]) = T(1);
            return y;
        }
        Tensor<T> y(Shape{B});  // binary, sparse: the class index as a number
        for (index_t k = 0; k < B; ++k) y[k] = static_cast<T>(labels_[std::size_t(idx[std::size_t(k)])]);
        return y;
    }

private:
    struct Prepared {
        std::filesystem::path directory;
        std::vector<std::string> class_names, filenames;
        std::vector<index_t> labels, cache_index;
        std::shared_ptr<ImageCache> cache;
        int channels;
    };

    static Prepared prepare(const std::filesystem::path& directory, const ImageDataGenerator<T>& gen,
                            const FlowFromDirectoryOptions& o) {
        const std::string who = "flow_from_directory(\"" + directory.string() + "\")";
        const int channels = color_mode_channels(o.color_mode, who);
        const auto method = kernels::parse_interpolation(o.interpolation, who);
        require(o.class_mode.empty() || o.class_mode == "categorical" || o.class_mode == "binary" ||
                    o.class_mode == "sparse" || o.class_mode == "input",
                who, ": class_mode must be one of \"categorical\", \"binary\", \"sparse\", \"input\" or None (\"\"), got \"",
                o.class_mode, "\"");
        require(o.subset.empty() || o.subset == "training" || o.subset == "validation", who,
                ": subset must be \"training\" or \"validation\", got \"", o.subset, "\"");
        require(o.target_size[0] > 0 && o.target_size[1] > 0, who, ": target_size must be positive, got (",
                o.target_size[0], ", ", o.target_size[1], ")");
        require(o.batch_size > 0, who, ": batch_size must be > 0, got ", o.batch_size);
        DirectoryListing all = list_directory(directory, o.classes, flow_from_directory_extensions(),
                                              /*skip_hidden=*/false, o.follow_links, who);
        for (const auto& c : all.empty_classes)
            std::cerr << "Warning: " << who << ": class folder \"" << (directory / c).string() << "\" has no images\n";
        // Per-class split by position (spec §2.2).
        const double v = gen.options().validation_split;
        Prepared p;
        p.directory = directory;
        p.class_names = all.class_names;
        p.channels = channels;
        std::vector<std::filesystem::path> paths;
        std::vector<index_t> labels;
        std::vector<std::string> names;
        for (index_t k = 0; k < index_t(all.class_names.size()); ++k) {
            std::vector<std::size_t> mine;
            for (std::size_t i = 0; i < all.filenames.size(); ++i)
                if (all.labels[i] == k) mine.push_back(i);
            const auto n = double(mine.size());
            std::size_t start = 0, stop = mine.size();
            if (o.subset == "validation") stop = std::size_t(v * n);
            if (o.subset == "training") start = std::size_t(v * n);
            for (std::size_t i = start; i < stop; ++i) {
                names.push_back(all.filenames[mine[i]]);
                labels.push_back(k);
                paths.push_back(directory / all.filenames[mine[i]]);
            }
        }
        ImageLoadSpec spec{channels, o.target_size[0], o.target_size[1], method, /*antialias=*/true,
                           o.keep_aspect_ratio, o.limits};
        p.cache = std::make_shared<ImageCache>(paths, spec, o.cache_bytes);
        const std::vector<char> ok = detail::scan_files(*p.cache, o.strict, who);
        for (std::size_t i = 0; i < ok.size(); ++i)
            if (ok[i]) {
                p.filenames.push_back(names[i]);
                p.labels.push_back(labels[i]);
                p.cache_index.push_back(index_t(i));
            }
        require(!p.filenames.empty() || !o.subset.empty(), who, ": no images found in \"", directory.string(),
                "\" (class sub-folders holding png, jpg, jpeg, bmp, ppm, tif or tiff files are expected)");
        if (o.verbose)
            std::cout << "Found " << p.filenames.size() << " images belonging to " << p.class_names.size()
                      << " classes.\n";
        return p;
    }

    DirectoryIterator(Prepared p, std::shared_ptr<const ImageDataGenerator<T>> generator, const FlowFromDirectoryOptions& o)
        : KerasIterator<T>(index_t(p.filenames.size()), o.batch_size, o.shuffle, o.seed, std::move(generator),
                           Shape{o.target_size[0], o.target_size[1], p.channels}, o.workers),
          directory_(p.directory), class_names_(p.class_names), filenames_(p.filenames), labels_(p.labels),
          cache_index_(p.cache_index), cache_(p.cache), class_mode_(o.class_mode), height_(o.target_size[0]),
          width_(o.target_size[1]), channels_(p.channels) {
        for (std::size_t k = 0; k < class_names_.size(); ++k) class_indices_[class_names_[k]] = index_t(k);
    }

    std::filesystem::path directory_;
    std::vector<std::string> class_names_, filenames_;
    std::vector<index_t> labels_, cache_index_;
    std::shared_ptr<ImageCache> cache_;
    std::string class_mode_;
    index_t height_, width_, channels_;
    std::map<std::string, index_t> class_indices_;
};

template <class T>
DirectoryIterator<T> ImageDataGenerator<T>::flow_from_directory(const std::filesystem::path& directory,
                                                                const FlowFromDirectoryOptions& options) const {
    return DirectoryIterator<T>(directory, std::make_shared<const ImageDataGenerator<T>>(*this), options);
}
template <class T>
DirectoryIterator<T> ImageDataGenerator<T>::flow_from_directory(const std::filesystem::path& directory) const {
    return flow_from_directory(directory, FlowFromDirectoryOptions{});
}

}  // namespace lumen::data
