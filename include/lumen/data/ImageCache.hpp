// ImageCache — every file decoded once per run, kept resized as uint8 within a memory budget.
//
// A dataset asks get(i) for file i at the target size. The first call decodes and resizes it; if the budget
// still has room the result is kept and later calls return it without touching the disk, otherwise the file is
// streamed (decoded again next time). Slots are filled lock-free (one atomic state per slot: empty -> filling ->
// ready), so prefetch workers can share the cache; a slot being filled by another worker is simply decoded
// again by the second one (same bytes, same result), which keeps results independent of timing.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lumen/data/image.hpp"
#include "lumen/data/image_utils.hpp"
#include "lumen/kernels/resize.hpp"

namespace lumen::data {

// How a dataset turns a file into its cached uint8 sample.
struct ImageLoadSpec {
    int channels = 3;
    index_t height = 256, width = 256;
    kernels::Interpolation interpolation = kernels::Interpolation::bilinear;
    bool antialias = false;  // PIL rules (flow_from_directory) vs TF rules (image_dataset_from_directory)
    bool crop = false;       // keep_aspect_ratio / crop_to_aspect_ratio
    DecodeLimits limits{};
};

class ImageCache {
public:
    ImageCache(std::vector<std::filesystem::path> paths, ImageLoadSpec spec, std::size_t budget_bytes)
        : paths_(std::move(paths)), spec_(spec), budget_(budget_bytes), slots_(paths_.size()),
          state_(std::make_unique<std::atomic<int>[]>(paths_.size())) {
        for (std::size_t i = 0; i < paths_.size(); ++i) state_[i].store(kEmpty);
    }

    [[nodiscard]] std::size_t size() const { return paths_.size(); }
    [[nodiscard]] const ImageLoadSpec& spec() const { return spec_; }
    [[nodiscard]] const std::filesystem::path& path(std::size_t i) const { return paths_[i]; }
    [[nodiscard]] std::size_t bytes_used() const { return used_.load(); }
    [[nodiscard]] std::size_t budget() const { return budget_; }
    [[nodiscard]] std::size_t decodes() const { return decodes_.load(); }

    // File i decoded, converted and resized; throws Error naming the file if it cannot be decoded.
    Image get(std::size_t i) {
        if (state_[i].load(std::memory_order_acquire) == kReady) return slots_[i];
        Image img = load(i);
        const std::size_t bytes = img.pixels.size();
        if (!reserve(bytes)) return img;  // over the budget: streamed, decoded again next time
        int expected = kEmpty;
        if (state_[i].compare_exchange_strong(expected, kFilling)) {
            slots_[i] = img;
            state_[i].store(kReady, std::memory_order_release);
        } else {
            used_.fetch_sub(bytes);  // another thread is keeping this file
        }
        return img;
    }

    // f(file i's image), without copying it when it is cached (get() returns a copy).
    template <class F>
    void visit(std::size_t i, F&& f) {
        if (state_[i].load(std::memory_order_acquire) == kReady) {
            f(static_cast<const Image&>(slots_[i]));
            return;
        }
        const Image img = get(i);
        f(img);
    }

private:
    static constexpr int kEmpty = 0, kFilling = 1, kReady = 2;

    // Adds `bytes` to the bytes used only if the total stays within the budget, so bytes_used() never reads
    // above it, not even for a moment (an add-then-undo did, under ThreadSanitizer's scheduling).
    bool reserve(std::size_t bytes) {
        std::size_t used = used_.load();
        do {
            if (used + bytes > budget_) return false;
        } while (!used_.compare_exchange_weak(used, used + bytes));
        return true;
    }

    Image load(std::size_t i) {
        decodes_.fetch_add(1);
        const Image img = decode_image_file(paths_[i], spec_.channels, spec_.limits);
        return resize_image(img, spec_.height, spec_.width, spec_.interpolation, spec_.antialias, spec_.crop);
    }

    std::vector<std::filesystem::path> paths_;
    ImageLoadSpec spec_;
    std::size_t budget_;
    std::vector<Image> slots_;
    std::unique_ptr<std::atomic<int>[]> state_;
    std::atomic<std::size_t> used_{0};
    std::atomic<std::size_t> decodes_{0};
};

}  // namespace lumen::data
