// lumen::Tensor<T> — a shape plus contiguous, 64-byte-aligned, row-major storage.
//
// Image batches are NHWC: element (n, h, w, c) of a (N, H, W, C) tensor lives at ((n*H + h)*W + w)*C + c.
// Storage is a plain aligned vector, so any tensor can be viewed as an Eigen matrix or array without a copy:
//   auto X = x.matrix(N, H*W*C);      // Eigen::Map of a row-major (N, H*W*C) matrix
//   x.array() *= 2;                   // element-wise, vectorised by Eigen
// Tensors are values: copying one copies its data. Move them when you can.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "lumen/core/block_cache.hpp"
#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"

namespace lumen {

// std::allocator with 64-byte alignment (one cache line, one AVX-512 register), whatever Eigen was
// configured with, so every tensor can be mapped as Eigen::Aligned64.
// Blocks of 4 MiB or more (activations of a batch: 66 MB for the flowers model's first convolution) are
// rounded up to whole 2 MiB, 2 MiB-aligned and, on Linux, advised as transparent huge pages: glibc maps such
// blocks fresh on every allocation, and first-touching them 4 KiB at a time cost about 40% of that
// convolution's forward pass (docs/performance.md); 2 MiB pages take 512x fewer faults. Freed blocks of
// 256 KiB or more go to the block cache (block_cache.hpp), from which the next request of the same rounded
// size is served without any fault at all.
// Colouring: a tensor of 4 MiB or more does not start at its block's 2 MiB boundary but 1 to 31 steps of
// 4 KiB + 128 bytes into it, a different step for each allocation in turn (less than 2 MiB in all, so the
// block is the data pointer rounded down to 2 MiB). Otherwise every large tensor of a step would sit at the same address
// modulo 2 MiB, and a loop that reads one while writing another at about the same offset ran 1.6x slower on
// an Intel Xeon (Emerald Rapids): RandomZoom on a flowers batch 7.3 ms with input and output so aligned,
// 4.5-4.8 ms with any other offset from 128 bytes to 1 MiB (docs/performance.md). Off with the cache.
template <class T>
struct AlignedAllocator {
    using value_type = T;
    static constexpr std::align_val_t kAlignment{64};
    static constexpr std::size_t kHugePage = std::size_t{1} << 21;
    static constexpr std::size_t kHugeFrom = std::size_t{1} << 22;   // bytes
    static constexpr std::size_t kCacheFrom = std::size_t{1} << 18;  // bytes: smaller blocks stay with malloc
    static constexpr std::size_t kColourStep = 4096 + 128;           // bytes, a multiple of the 64-byte alignment
    static constexpr std::size_t kColours = 31;                      // steps 1 .. 31 into the block
    static_assert(kColours * kColourStep < kHugePage);
    AlignedAllocator() = default;
    template <class U>
    AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T) - 2 * kHugePage) throw std::bad_alloc();
        const std::size_t bytes = n * sizeof(T);
        if (bytes < kCacheFrom) return static_cast<T*>(::operator new(bytes, kAlignment));
        const auto [rounded, alignment] = cached_block(n);
        auto& cache = detail::large_block_cache();
        void* p = cache.take(rounded, alignment);
        if (!p) {
            try {
                p = ::operator new(rounded, alignment);
            } catch (const std::bad_alloc&) {  // cached blocks of other sizes may be what stands in the way
                cache.release();
                p = ::operator new(rounded, alignment);
            }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
            if (rounded >= kHugeFrom) ::madvise(p, rounded / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice only
#endif
        }
        if (!coloured(bytes)) return static_cast<T*>(p);
        static std::atomic<std::size_t> next{0};
        const std::size_t colour = next.fetch_add(1, std::memory_order_relaxed) % kColours + 1;
        return reinterpret_cast<T*>(static_cast<char*>(p) + colour * kColourStep);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if (n * sizeof(T) < kCacheFrom) return ::operator delete(p, kAlignment);
        const auto [rounded, alignment] = cached_block(n);
        char* block = reinterpret_cast<char*>(p);
        if (coloured(n * sizeof(T))) block -= reinterpret_cast<std::uintptr_t>(p) % kHugePage;  // its 2 MiB boundary
        detail::large_block_cache().give_back(block, rounded, alignment);
    }
    // Whether a tensor of `bytes` starts a colour step into its block (see above).
    static bool coloured(std::size_t bytes) { return detail::kBlockCacheEnabled && bytes >= kHugeFrom; }
    // The size and alignment of the block that holds n elements: whole 2 MiB pages from kHugeFrom on (with room
    // for the colour steps), else whole 4 KiB pages; the exact size where the cache is off (under sanitizers,
    // which check the exact size).
    static std::pair<std::size_t, std::align_val_t> cached_block(std::size_t n) {
        const std::size_t bytes = n * sizeof(T);
        if (!detail::kBlockCacheEnabled) return {bytes, bytes >= kHugeFrom ? std::align_val_t{kHugePage} : kAlignment};
        if (bytes >= kHugeFrom) {
            const std::size_t block = bytes + kColours * kColourStep;
            return {(block + kHugePage - 1) / kHugePage * kHugePage, std::align_val_t{kHugePage}};
        }
        return {(bytes + 4095) / 4096 * 4096, kAlignment};
    }
    template <class U>
    bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
};

namespace detail {
// AlignedAllocator whose value-less construct() default-initialises: a vector of float grown by resize(n)
// is left uninitialised, so Tensor can skip zero-filling buffers that are about to be overwritten.
template <class T>
struct DefaultInitAllocator : AlignedAllocator<T> {
    template <class U>
    struct rebind {
        using other = DefaultInitAllocator<U>;
    };
    DefaultInitAllocator() = default;
    template <class U>
    DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
}  // namespace detail

// Tag of Tensor's constructor that leaves the elements uninitialised, for outputs every element of which
// is written next: Tensor<float> y(shape, uninitialized);
struct Uninitialized {
    explicit Uninitialized() = default;
};
inline constexpr Uninitialized uninitialized{};

// The most elements one tensor may hold (2^34, 64 GiB of float32): anything larger is a bug or a forged
// file, and is refused before allocation.
inline constexpr index_t kMaxTensorElements = index_t{1} << 34;

// A ceiling on the elements of the tensors this thread constructs from a shape (or resizes) while a TensorBudget
// lives. load_model sets one from the size of the file's weights section before it builds the layers its
// architecture text describes, so a forged file (a valid checksum around "Dense units=1000000000") is refused
// before the allocation instead of after it. Budgets nest: a tensor is charged to every live budget of the
// thread, so an inner budget never loosens an outer one. Copies, views and other threads are not charged.
class TensorBudget {
public:
    TensorBudget(index_t elements, std::string what) : previous_(current()), remaining_(elements), what_(std::move(what)) {
        current() = this;
    }
    ~TensorBudget() { current() = previous_; }
    TensorBudget(const TensorBudget&) = delete;
    TensorBudget& operator=(const TensorBudget&) = delete;
    static void* operator new(std::size_t) = delete;  // scoped only: budgets must end in reverse order

    // Called for every tensor about to be allocated on this thread.
    static void charge(index_t elements, const Shape& shape) {
        for (TensorBudget* b = current(); b != nullptr; b = b->previous_)
            require(elements <= b->remaining_, "a tensor of shape ", shape.to_string(), " (", elements,
                    " elements) exceeds ", b->what_, " (", b->remaining_, " elements left); refusing to allocate");
        for (TensorBudget* b = current(); b != nullptr; b = b->previous_) b->remaining_ -= elements;
    }

private:
    static TensorBudget*& current() {
        thread_local TensorBudget* budget = nullptr;
        return budget;
    }
    TensorBudget* previous_;
    index_t remaining_;
    std::string what_;
};

template <class T>
class Tensor {
public:
    using Scalar = T;
    template <int Options = Eigen::RowMajor>
    using MatrixMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Options>, Eigen::Aligned64>;
    using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;
    using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;
    using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

    Tensor() = default;
    // A zero-filled tensor of the given shape.
    explicit Tensor(Shape shape) : shape_(std::move(shape)) {
        check_shape(shape_);
        data_.assign(static_cast<std::size_t>(shape_.size()), T(0));
    }
    // A tensor whose elements are unspecified (not zero-filled): for outputs the caller overwrites entirely.
    Tensor(Shape shape, Uninitialized) : shape_(std::move(shape)) {
        check_shape(shape_);
        data_.resize(static_cast<std::size_t>(shape_.size()));
    }
    Tensor(Shape shape, T fill_value) : shape_(std::move(shape)) {
        check_shape(shape_);
        data_.assign(static_cast<std::size_t>(shape_.size()), fill_value);
    }
    // A tensor holding the given values, row-major; their number must match the shape.
    Tensor(Shape shape, std::vector<T> values) : shape_(std::move(shape)) {
        check_shape(shape_);
        require(static_cast<index_t>(values.size()) == shape_.size(), "Tensor", shape_.to_string(), ": got ",
                values.size(), " values, the shape holds ", shape_.size());
        data_.assign(values.begin(), values.end());
    }

    [[nodiscard]] const Shape& shape() const { return shape_; }
    [[nodiscard]] int rank() const { return shape_.rank(); }
    [[nodiscard]] index_t dim(int axis) const { return shape_.dim(axis); }
    [[nodiscard]] index_t size() const { return static_cast<index_t>(data_.size()); }
    [[nodiscard]] bool empty() const { return data_.empty(); }

    [[nodiscard]] T* data() { return data_.data(); }
    [[nodiscard]] const T* data() const { return data_.data(); }
    T& operator[](index_t i) { return data_[static_cast<std::size_t>(i)]; }
    const T& operator[](index_t i) const { return data_[static_cast<std::size_t>(i)]; }
    [[nodiscard]] T* begin() { return data(); }
    [[nodiscard]] T* end() { return data() + size(); }
    [[nodiscard]] const T* begin() const { return data(); }
    [[nodiscard]] const T* end() const { return data() + size(); }

    // Element (n, h, w, c) of a rank-4 NHWC tensor; (i, j) of a rank-2 one. Unchecked, for readable loops.
    T& at(index_t n, index_t h, index_t w, index_t c) { return data_[offset(n, h, w, c)]; }
    const T& at(index_t n, index_t h, index_t w, index_t c) const { return data_[offset(n, h, w, c)]; }
    T& at(index_t i, index_t j) { return data_[static_cast<std::size_t>(i * shape_[1] + j)]; }
    const T& at(index_t i, index_t j) const { return data_[static_cast<std::size_t>(i * shape_[1] + j)]; }

    // The data as a row-major (rows, cols) Eigen matrix; rows*cols must equal size().
    MatrixMap<> matrix(index_t rows, index_t cols) {
        check_view(rows, cols);
        return MatrixMap<>(data(), rows, cols);
    }
    Eigen::Map<const RowMatrix, Eigen::Aligned64> matrix(index_t rows, index_t cols) const {
        check_view(rows, cols);
        return Eigen::Map<const RowMatrix, Eigen::Aligned64>(data(), rows, cols);
    }
    // The data as a row-major (size/last, last) matrix: the batch of rows a Dense layer multiplies.
    MatrixMap<> matrix() { return matrix(size() / std::max<index_t>(1, last_dim()), last_dim()); }
    Eigen::Map<const RowMatrix, Eigen::Aligned64> matrix() const {
        return matrix(size() / std::max<index_t>(1, last_dim()), last_dim());
    }
    // The data as a flat Eigen array, for element-wise maths.
    ArrayMap array() { return ArrayMap(data(), size()); }
    ConstArrayMap array() const { return ConstArrayMap(data(), size()); }

    void fill(T value) { std::fill(data_.begin(), data_.end(), value); }
    void set_zero() { fill(T(0)); }

    // The same data under another shape with the same number of elements.
    [[nodiscard]] Tensor reshaped(Shape new_shape) const& {
        Tensor out = *this;
        out.reshape(std::move(new_shape));
        return out;
    }
    [[nodiscard]] Tensor reshaped(Shape new_shape) && {
        reshape(std::move(new_shape));
        return std::move(*this);
    }
    void reshape(Shape new_shape) {
        require(new_shape.size() == shape_.size(), "Tensor::reshape: cannot view ", shape_.to_string(), " (",
                shape_.size(), " elements) as ", new_shape.to_string(), " (", new_shape.size(), " elements)");
        shape_ = std::move(new_shape);
    }
    // Makes the tensor hold `shape`, reusing its storage when the size allows. Contents are unspecified.
    void resize(const Shape& shape) {
        check_shape(shape);
        shape_ = shape;
        data_.resize(static_cast<std::size_t>(shape.size()), T(0));  // new elements zero, as before
    }
    // resize() without zeroing new elements, for buffers the caller overwrites entirely.
    void resize_uninitialized(const Shape& shape) {
        check_shape(shape);
        shape_ = shape;
        data_.resize(static_cast<std::size_t>(shape.size()));
    }

    // Samples [begin, end) along the first axis, copied.
    [[nodiscard]] Tensor slice(index_t begin, index_t end) const {
        require(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "Tensor::slice: [", begin, ", ",
                end, ") is out of range for shape ", shape_.to_string());
        Shape s = shape_;
        s[0] = end - begin;
        Tensor out(s);
        const index_t per = rank() ? size() / std::max<index_t>(1, shape_[0]) : 0;
        std::copy(data() + begin * per, data() + end * per, out.data());
        return out;
    }

    // Converts element type, e.g. a float tensor to double for a gradient check.
    template <class U>
    [[nodiscard]] Tensor<U> cast() const {
        Tensor<U> out(shape_);
        std::transform(begin(), end(), out.begin(), [](T v) { return static_cast<U>(v); });
        return out;
    }

private:
    [[nodiscard]] index_t last_dim() const { return rank() ? shape_[rank() - 1] : 1; }
    [[nodiscard]] std::size_t offset(index_t n, index_t h, index_t w, index_t c) const {
        return static_cast<std::size_t>(((n * shape_[1] + h) * shape_[2] + w) * shape_[3] + c);
    }
    void check_view(index_t rows, index_t cols) const {
        require(rows >= 0 && cols >= 0 && rows * cols == size(), "Tensor", shape_.to_string(),
                ": cannot view ", size(), " elements as a (", rows, ", ", cols, ") matrix");
    }
    static void check_shape(const Shape& s) {
        index_t n = 1;
        for (index_t d : s.dims()) {
            require(d >= 0, "Tensor: negative dimension in shape ", s.to_string());
            if (d != 0 && n > kMaxTensorElements / d)
                fail("Tensor: shape ", s.to_string(), " has more than 2^34 elements; refusing to allocate");
            n *= d;
        }
        TensorBudget::charge(n, s);
    }

    Shape shape_;
    std::vector<T, detail::DefaultInitAllocator<T>> data_;
};

}  // namespace lumen
