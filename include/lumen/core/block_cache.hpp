// Large tensor blocks kept for reuse instead of being handed back to the operating system.
//
// A training step allocates the same large tensors every time: the flowers model's first convolution alone
// returns a (32, 180, 180, 16) output, 66 MB, and its gradient is as large again. glibc serves blocks that
// large with a fresh mmap and unmaps them on free, so every step the kernel zero-filled about 300 MB of new
// pages: 28% of a 1-thread flowers train_step was clear_page_erms (perf, docs/performance.md). Keeping freed
// blocks and handing one back for the next request of the same (rounded) size removes that cost; blocks from 256 KiB up (a fashion_mnist pooling output, 2.7 MB) are kept too, as glibc maps or
// trims those afresh as well. A freed block stays resident while cached, so the process keeps the memory of its largest step
// instead of returning it between steps, up to a limit (1 GiB unless set_tensor_cache_limit says otherwise);
// past the limit the oldest cached blocks are freed first.
// Under AddressSanitizer (and HWASan, MemorySanitizer) the cache is off and blocks have their exact size, so a
// use after free, an overflow or a read of uninitialised memory in a large tensor is still reported.
// The cache is the one piece of process-wide mutable state in lumen, like malloc's own free lists: behind a
// mutex, invisible in results, and with a knob (set_tensor_cache_limit).
#pragma once

#include <cstddef>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace lumen {

namespace detail {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_HWADDRESS__)
inline constexpr bool kBlockCacheEnabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(hwaddress_sanitizer) || __has_feature(memory_sanitizer)
inline constexpr bool kBlockCacheEnabled = false;
#else
inline constexpr bool kBlockCacheEnabled = true;
#endif
#else
inline constexpr bool kBlockCacheEnabled = true;
#endif

// Freed blocks keyed by their byte size; each was allocated with ::operator new(bytes, alignment).
class BlockCache {
public:
    BlockCache() { blocks_.reserve(kMaxBlocks); }
    static constexpr std::size_t kMaxBlocks = 256;  // blocks remembered at most (the vector never grows)
    BlockCache(const BlockCache&) = delete;
    BlockCache& operator=(const BlockCache&) = delete;

    // A cached block of exactly `bytes`, or nullptr.
    void* take(std::size_t bytes, std::align_val_t alignment) {
        if (!kBlockCacheEnabled) return nullptr;
        std::lock_guard lock(mutex_);
        for (std::size_t i = blocks_.size(); i-- > 0;)  // newest first: most likely still in cache
            if (blocks_[i].bytes == bytes && blocks_[i].alignment == alignment) {
                void* p = blocks_[i].p;
                blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
                cached_bytes_ -= bytes;
                return p;
            }
        return nullptr;
    }
    // Keeps a block the caller is done with, or frees it when it does not fit under the limit. Never allocates,
    // so it cannot throw while tensors are freed during an out-of-memory unwind.
    void give_back(void* p, std::size_t bytes, std::align_val_t alignment) noexcept {
        std::lock_guard lock(mutex_);
        const Block block{p, bytes, alignment};
        if (!kBlockCacheEnabled || bytes > limit_) {
            free(block);
            return;
        }
        while (cached_bytes_ + bytes > limit_ || blocks_.size() >= kMaxBlocks) {  // the oldest go first
            free(blocks_.front());
            cached_bytes_ -= blocks_.front().bytes;
            blocks_.erase(blocks_.begin());
        }
        blocks_.push_back(block);  // within capacity: cannot throw
        cached_bytes_ += bytes;
    }
    // Frees every cached block, keeping the limit: allocate() calls it before giving up on a request.
    void release() noexcept {
        std::lock_guard lock(mutex_);
        for (const Block& b : blocks_) free(b);
        blocks_.clear();
        cached_bytes_ = 0;
    }
    // Frees every cached block and keeps at most `bytes` from now on (0: cache nothing).
    void set_limit(std::size_t bytes) noexcept {
        std::lock_guard lock(mutex_);
        limit_ = bytes;
        for (const Block& b : blocks_) free(b);
        blocks_.clear();
        cached_bytes_ = 0;
    }
    [[nodiscard]] std::size_t cached_bytes() {
        std::lock_guard lock(mutex_);
        return cached_bytes_;
    }

private:
    struct Block {
        void* p;
        std::size_t bytes;
        std::align_val_t alignment;
    };
    static void free(const Block& b) noexcept { ::operator delete(b.p, b.alignment); }

    std::mutex mutex_;
    std::vector<Block> blocks_;  // oldest first
    std::size_t cached_bytes_ = 0;
    std::size_t limit_ = std::size_t{1} << 30;
};

// The process's cache of large tensor blocks. Never destroyed, so a static tensor freed at exit still finds it.
inline BlockCache& large_block_cache() {
    static BlockCache* cache = new BlockCache();
    return *cache;
}

}  // namespace detail

// Frees the large tensor blocks lumen keeps for reuse and caches at most `bytes` from now on (default 1 GiB;
// 0 turns the cache off). For a program that trains, then does something else memory-hungry.
inline void set_tensor_cache_limit(std::size_t bytes) { detail::large_block_cache().set_limit(bytes); }

}  // namespace lumen
