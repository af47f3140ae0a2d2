// DirectoryDataset — what image_dataset_from_directory returns (spec §3).
//
// Classes are the sorted sub-folders (dot-folders skipped) or class_names; files are listed recursively in
// Keras' order (.bmp .gif .jpeg .jpg .png). With shuffle, the whole list is shuffled ONCE with numpy's
// RandomState(seed) (bit-identical to Keras, so the same seed puts the same files in validation), then the last
// int(validation_split * N) files are the validation subset and the rest the training subset. Each epoch the
// subset is reshuffled with a tf.data-style buffer of 8 * batch_size (lumen's generator: same algorithm, not
// tf's numbers); with subset "both" only the training set is. Images: TF bilinear by default (no antialias),
// decoded once and cached as uint8 (values differ from Keras' float resize by at most 0.5).
// Labels: "int" (B,), "categorical" (B, K) one-hot, "binary" (B, 1), "" (None) no labels.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/random.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/data/ImageCache.hpp"
#include "lumen/data/Prefetcher.hpp"
#include "lumen/data/dataset.hpp"
#include "lumen/data/directory.hpp"
#include "lumen/data/numpy_random.hpp"
#include "lumen/data/scan.hpp"

namespace lumen::data {

struct ImageDatasetOptions {
    std::string labels = "inferred";  // "inferred" or "" (None)
    std::string label_mode = "int";   // int, categorical, binary, "" (None)
    std::vector<std::string> class_names{};
    std::string color_mode = "rgb";
    index_t batch_size = 32;
    std::array<index_t, 2> image_size{256, 256};  // (height, width)
    bool shuffle = true;
    std::optional<std::uint32_t> seed{};
    double validation_split = 0;  // 0 = None
    std::string subset{};         // "", "training", "validation", "both"
    std::string interpolation = "bilinear";
    bool follow_links = false;
    bool crop_to_aspect_ratio = false;
    // lumen's own knobs
    std::size_t cache_bytes = std::size_t(1) << 30;
    int workers = -1;  // prefetch threads; -1 = lumen::num_threads(), 0 = none
    bool strict = false;
    bool verbose = true;
    DecodeLimits limits{};
};

template <class T = float>
class DirectoryDataset : public Dataset<T> {
public:
    // One subset: files (paths relative to nothing: absolute or as given), their labels, cache indices.
    struct Subset {
        std::vector<std::filesystem::path> file_paths;
        std::vector<index_t> labels;
        std::vector<index_t> cache_index;
        std::shared_ptr<ImageCache> cache;
        std::vector<std::string> class_names;
        std::string label_mode;
        index_t batch_size;
        bool shuffle;
        std::uint32_t seed;
        int workers;
    };

    explicit DirectoryDataset(Subset s) : s_(std::move(s)), state_(std::make_shared<State>()) {
        const int w = s_.workers < 0 ? num_threads() : s_.workers;
        state_->prefetcher = std::make_shared<Prefetcher<Batch<T>>>(
            [this](index_t e, index_t i) { return make_batch(e, i); }, w, std::max(1, w));
    }
    DirectoryDataset(const DirectoryDataset&) = delete;
    DirectoryDataset& operator=(const DirectoryDataset&) = delete;
    ~DirectoryDataset() override { state_->prefetcher->drain(); }

    [[nodiscard]] index_t num_batches() const override {
        return (index_t(s_.file_paths.size()) + s_.batch_size - 1) / s_.batch_size;
    }
    [[nodiscard]] index_t num_samples() const override { return index_t(s_.file_paths.size()); }
    Batch<T> batch(index_t i) override {
        require(i >= 0 && i < num_batches(), "image_dataset_from_directory: batch ", i, " out of range [0, ",
                num_batches(), ")");
        return state_->prefetcher->get(state_->epoch, i, num_batches());
    }
    void on_epoch_end() override {
        state_->prefetcher->drain();
        ++state_->epoch;
    }

    [[nodiscard]] const std::vector<std::string>& class_names() const { return s_.class_names; }
    [[nodiscard]] const std::vector<std::filesystem::path>& file_paths() const { return s_.file_paths; }
    [[nodiscard]] const std::vector<index_t>& labels() const { return s_.labels; }
    [[nodiscard]] const ImageCache& cache() const { return *s_.cache; }

    // The sample order of an epoch: a buffer shuffle (size 8 * batch_size) of the subset, or file order.
    [[nodiscard]] std::vector<index_t> order(index_t epoch) const {
        const auto n = index_t(s_.file_paths.size());
        std::vector<index_t> out;
        out.reserve(std::size_t(n));
        if (!s_.shuffle) {
            for (index_t i = 0; i < n; ++i) out.push_back(i);
            return out;
        }
        Generator g(derive_seed(s_.seed, std::uint64_t(epoch)));
        const index_t cap = 8 * s_.batch_size;
        std::vector<index_t> buffer;
        index_t next = 0;
        while (next < n && index_t(buffer.size()) < cap) buffer.push_back(next++);
        while (!buffer.empty()) {
            const auto k = std::size_t(g.below(buffer.size()));
            out.push_back(buffer[k]);
            if (next < n) buffer[k] = next++;
            else {
                buffer[k] = buffer.back();
                buffer.pop_back();
            }
        }
        return out;
    }

private:
    Batch<T> make_batch(index_t epoch, index_t i) {
        std::vector<index_t> ord;
        {
            std::lock_guard lock(state_->mutex);
            if (state_->order_epoch != epoch) {
                state_->order = order(epoch);
                state_->order_epoch = epoch;
            }
            ord = state_->order;
        }
        const index_t n = index_t(ord.size()), begin = i * s_.batch_size, end = std::min(n, begin + s_.batch_size);
        const ImageLoadSpec& spec = s_.cache->spec();
        const index_t per = spec.height * spec.width * spec.channels, B = end - begin;
        Batch<T> b;
        b.x = Tensor<T>(Shape{B, spec.height, spec.width, spec.channels}, uninitialized);  // every value written
        for (index_t k = 0; k < B; ++k) {
            const auto file = std::size_t(s_.cache_index[std::size_t(ord[std::size_t(begin + k)])]);
            s_.cache->visit(file, [&](const Image& img) {
                require(index_t(img.pixels.size()) == per, s_.cache->path(file).string(), ": decoded to ",
                        img.pixels.size(), " values, expected ", per);
                const std::uint8_t* from = img.pixels.data();
                T* to = b.x.data() + k * per;
                for (index_t j = 0; j < per; ++j) to[j] = static_cast<T>(from[j]);
            });
        }
        const auto label = [&](index_t k) { return s_.labels[std::size_t(ord[std::size_t(begin + k)])]; };
        if (s_.label_mode == "int") {
            b.y = Tensor<T>(Shape{B});
            for (index_t k = 0; k < B; ++k) b.y[k] = static_cast<T>(label(k));
        } else if (s_.label_mode == "categorical") {
            b.y = Tensor<T>(Shape{B, index_t(s_.class_names.size())});
            for (index_t k = 0; k < B; ++k) b.y.at(k, label(k)) = T(1);
        } else if (s_.label_mode == "binary") {
            b.y = Tensor<T>(Shape{B, 1});
            for (index_t k = 0; k < B; ++k) b.y[k] = static_cast<T>(label(k));
        }
        return b;
    }

    struct State {
        index_t epoch = 0;
        std::mutex mutex;
        index_t order_epoch = -1;
        std::vector<index_t> order;
        std::shared_ptr<Prefetcher<Batch<T>>> prefetcher;
    };
    Subset s_;
    std::shared_ptr<State> state_;
};

namespace detail {

// Everything image_dataset_from_directory does before batching; returns one or two subsets.
template <class T>
std::vector<typename DirectoryDataset<T>::Subset> image_dataset_subsets(const std::filesystem::path& directory,
                                                                         const ImageDatasetOptions& o) {
    const std::string who = "image_dataset_from_directory(\"" + directory.string() + "\")";
    const int channels = color_mode_channels(o.color_mode, who);
    const auto method = kernels::parse_interpolation(o.interpolation, who);
    require(o.labels == "inferred" || o.labels.empty(), who, ": labels must be \"inferred\" or None (\"\"), got \"",
            o.labels, "\" (explicit label lists are not supported)");
    require(o.label_mode == "int" || o.label_mode == "categorical" || o.label_mode == "binary" || o.label_mode.empty(),
            who, ": label_mode must be \"int\", \"categorical\", \"binary\" or None (\"\"), got \"", o.label_mode, "\"");
    require(o.class_names.empty() || o.labels == "inferred", who,
            ": class_names can only be given with labels=\"inferred\"");
    require(o.validation_split == 0 || (o.validation_split > 0 && o.validation_split < 1), who,
            ": validation_split must be between 0 and 1, got ", o.validation_split);
    require(o.subset.empty() || o.subset == "training" || o.subset == "validation" || o.subset == "both", who,
            ": subset must be \"training\", \"validation\" or \"both\", got \"", o.subset, "\"");
    require((o.subset.empty()) == (o.validation_split == 0), who,
            ": validation_split and subset must be given together (got validation_split=", o.validation_split,
            ", subset=\"", o.subset, "\")");
    require(!(o.validation_split != 0 && o.shuffle && !o.seed), who,
            ": if using validation_split and shuffling the data, you must provide a seed");
    require(o.image_size[0] > 0 && o.image_size[1] > 0, who, ": image_size must be positive");
    require(o.batch_size > 0, who, ": batch_size must be > 0, got ", o.batch_size);

    const DirectoryListing all = list_directory(directory, o.class_names, image_dataset_extensions(),
                                                /*skip_hidden=*/true, o.follow_links, who);
    if (o.label_mode == "binary")
        require(all.class_names.size() == 2, who, ": label_mode=\"binary\" requires exactly 2 classes, found ",
                all.class_names.size());
    for (const auto& c : all.empty_classes)
        std::cerr << "Warning: " << who << ": class folder \"" << (directory / c).string() << "\" has no images\n";
    const bool labelled = !o.labels.empty() && !o.label_mode.empty();
    if (o.verbose) {
        if (labelled) std::cout << "Found " << all.filenames.size() << " files belonging to " << all.class_names.size() << " classes.\n";
        else std::cout << "Found " << all.filenames.size() << " files.\n";
    }
    require(!all.filenames.empty(), who, ": no images found in directory \"", directory.string(),
            "\". Allowed formats: .bmp, .gif, .jpeg, .jpg, .png");

    std::vector<std::filesystem::path> paths;
    for (const auto& f : all.filenames) paths.push_back(directory / f);
    std::vector<index_t> labels = all.labels;
    const std::uint32_t seed = o.seed.value_or(random_seed());
    if (o.shuffle) {  // two fresh RandomState(seed).shuffle calls: the same permutation for both lists
        NumpyRandomState r1(seed), r2(seed);
        r1.shuffle(paths.begin(), paths.end());
        r2.shuffle(labels.begin(), labels.end());
    }
    const auto N = index_t(paths.size());
    const auto num_val = index_t(o.validation_split * double(N));
    std::vector<std::pair<index_t, index_t>> ranges;  // [begin, end) of each returned subset
    if (o.subset.empty()) ranges.push_back({0, N});
    if (o.subset == "training" || o.subset == "both") {
        ranges.push_back({0, N - num_val});
        if (o.verbose) std::cout << "Using " << N - num_val << " files for training.\n";
    }
    if (o.subset == "validation" || o.subset == "both") {
        ranges.push_back({N - num_val, N});
        if (o.verbose) std::cout << "Using " << num_val << " files for validation.\n";
    }
    std::vector<typename DirectoryDataset<T>::Subset> out;
    for (std::size_t r = 0; r < ranges.size(); ++r) {
        const auto [b, e] = ranges[r];
        std::vector<std::filesystem::path> sub(paths.begin() + b, paths.begin() + e);
        ImageLoadSpec spec{channels, o.image_size[0], o.image_size[1], method, /*antialias=*/false,
                           o.crop_to_aspect_ratio, o.limits};
        // cache_bytes bounds the whole call: with subset "both" each subset gets its share by file count.
        const auto share = std::size_t(double(o.cache_bytes) * double(e - b) / double(N));
        auto cache = std::make_shared<ImageCache>(sub, spec, ranges.size() == 1 ? o.cache_bytes : share);
        const std::vector<char> ok = scan_files(*cache, o.strict, who);
        typename DirectoryDataset<T>::Subset s;
        s.cache = cache;
        for (std::size_t i = 0; i < ok.size(); ++i)
            if (ok[i]) {
                s.file_paths.push_back(sub[i]);
                s.labels.push_back(labels[std::size_t(b) + i]);
                s.cache_index.push_back(index_t(i));
            }
        require(!s.file_paths.empty(), who, ": no images found in directory \"", directory.string(),
                "\" for this subset. Allowed formats: .bmp, .gif, .jpeg, .jpg, .png");
        s.class_names = all.class_names;
        s.label_mode = labelled ? o.label_mode : "";
        s.batch_size = o.batch_size;
        // tf.data reshuffles a single subset every epoch; with "both" only the training set (the first).
        s.shuffle = o.shuffle && !(o.subset == "both" && r == 1);
        s.seed = seed;
        s.workers = o.workers;
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace detail

// Keras' image_dataset_from_directory for subset "", "training" or "validation".
template <class T = float>
DirectoryDataset<T> image_dataset_from_directory(const std::filesystem::path& directory, const ImageDatasetOptions& o = {}) {
    require(o.subset != "both", "image_dataset_from_directory(\"", directory.string(),
            "\"): subset \"both\" returns two datasets; call image_dataset_from_directory_both()");
    return DirectoryDataset<T>(std::move(detail::image_dataset_subsets<T>(directory, o).front()));
}

// subset "both": the training and the validation dataset, from one listing and one shuffle.
template <class T = float>
std::pair<std::unique_ptr<DirectoryDataset<T>>, std::unique_ptr<DirectoryDataset<T>>> image_dataset_from_directory_both(
    const std::filesystem::path& directory, ImageDatasetOptions o) {
    o.subset = "both";
    auto subsets = detail::image_dataset_subsets<T>(directory, o);
    return {std::make_unique<DirectoryDataset<T>>(std::move(subsets[0])),
            std::make_unique<DirectoryDataset<T>>(std::move(subsets[1]))};
}

}  // namespace lumen::data
