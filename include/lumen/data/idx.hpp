// IDX files (the MNIST / Fashion-MNIST format) and load_fashion_mnist().
//
// IDX: two zero bytes, a type byte (0x08 = unsigned byte; the only type these datasets use), the rank, then
// `rank` big-endian uint32 dimensions and the row-major data. Files may be gzip'd (detected by magic).
// load_fashion_mnist() mirrors keras.datasets.fashion_mnist.load_data() but returns float tensors ready for a
// Conv2D: images (N, 28, 28, 1) with values 0..255 (not rescaled, as in Keras) and labels (N,) holding 0..9.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/file.hpp"

namespace lumen::data {

// A decoded IDX file: its dimensions and its unsigned-byte data.
struct IdxArray {
    std::vector<index_t> dims;
    std::vector<std::uint8_t> data;
};

// Parses IDX bytes (already inflated); `what` names the source in errors.
inline IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    require(bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0, "\"", what,
            "\": not an IDX file (it must start with two zero bytes)");
    require(bytes[2] == 0x08, "\"", what, "\": IDX element type 0x", std::hex, int(bytes[2]), std::dec,
            " is not supported (only 0x08, unsigned byte)");
    const int rank = bytes[3];
    require(rank >= 1 && bytes.size() >= 4 + 4 * std::size_t(rank), "\"", what, "\": truncated IDX header");
    IdxArray out;
    index_t count = 1;
    for (int d = 0; d < rank; ++d) {
        const std::uint8_t* p = bytes.data() + 4 + 4 * d;
        const index_t dim = (index_t(p[0]) << 24) | (index_t(p[1]) << 16) | (index_t(p[2]) << 8) | index_t(p[3]);
        require(dim <= kMaxTensorElements / std::max<index_t>(1, count), "\"", what, "\": IDX dimensions too large");
        out.dims.push_back(dim);
        count *= dim;
    }
    const std::size_t header = 4 + 4 * std::size_t(rank);
    require(bytes.size() - header == std::size_t(count), "\"", what, "\": IDX header announces ", count,
            " values but the file holds ", bytes.size() - header, " (truncated or corrupt)");
    out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
    return out;
}

// Reads an IDX file, gzip'd or not.
inline IdxArray load_idx(const std::filesystem::path& path) {
    std::vector<std::uint8_t> bytes = read_file(path);
    if (is_gzip(bytes)) bytes = gunzip(bytes, path.string());
    return parse_idx(bytes, path.string());
}

// Keras' four arrays, as lumen tensors.
template <class T = float>
struct FashionMnist {
    Tensor<T> x_train;  // (60000, 28, 28, 1), 0..255
    Tensor<T> y_train;  // (60000,), class index 0..9
    Tensor<T> x_test;   // (10000, 28, 28, 1)
    Tensor<T> y_test;   // (10000,)
};

// The label names of Fashion-MNIST, by class index.
inline const std::array<const char*, 10>& fashion_mnist_class_names() {
    static const std::array<const char*, 10> names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

namespace detail {
inline std::filesystem::path idx_file(const std::filesystem::path& dir, const std::string& stem) {
    for (const char* suffix : {"-ubyte.gz", "-ubyte"}) {
        const auto p = dir / (stem + suffix);
        if (std::filesystem::exists(p)) return p;
    }
    fail("load_fashion_mnist: \"", (dir / (stem + "-ubyte.gz")).string(),
         "\" not found; install Debian's dataset-fashion-mnist package or pass the folder holding the IDX files");
}

template <class T>
Tensor<T> idx_images(const std::filesystem::path& path) {
    const IdxArray a = load_idx(path);
    require(a.dims.size() == 3, "\"", path.string(), "\": expected rank-3 images (N, rows, cols), got rank ",
            a.dims.size());
    Tensor<T> x(Shape{a.dims[0], a.dims[1], a.dims[2], 1});
    for (std::size_t i = 0; i < a.data.size(); ++i) x[static_cast<index_t>(i)] = static_cast<T>(a.data[i]);
    return x;
}

template <class T>
Tensor<T> idx_labels(const std::filesystem::path& path, index_t expected) {
    const IdxArray a = load_idx(path);
    require(a.dims.size() == 1 && a.dims[0] == expected, "\"", path.string(), "\": expected ", expected,
            " labels (rank 1), got ", a.data.size());
    Tensor<T> y(Shape{a.dims[0]});
    for (std::size_t i = 0; i < a.data.size(); ++i) y[static_cast<index_t>(i)] = static_cast<T>(a.data[i]);
    return y;
}
}  // namespace detail

// Loads Fashion-MNIST from `dir` (Debian installs it in /usr/share/datasets/fashion-mnist):
// train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), t10k-labels-...
template <class T = float>
FashionMnist<T> load_fashion_mnist(const std::filesystem::path& dir = "/usr/share/datasets/fashion-mnist") {
    FashionMnist<T> d;
    d.x_train = detail::idx_images<T>(detail::idx_file(dir, "train-images-idx3"));
    d.y_train = detail::idx_labels<T>(detail::idx_file(dir, "train-labels-idx1"), d.x_train.dim(0));
    d.x_test = detail::idx_images<T>(detail::idx_file(dir, "t10k-images-idx3"));
    d.y_test = detail::idx_labels<T>(detail::idx_file(dir, "t10k-labels-idx1"), d.x_test.dim(0));
    return d;
}

}  // namespace lumen::data
