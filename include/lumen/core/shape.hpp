// lumen::Shape — the dimensions of a tensor, printed the way Keras prints them.
//
// Tensors are NHWC (channels_last): an image batch is (batch, height, width, channels).
// Layers reason about per-sample shapes (no batch axis); Keras prints those with a leading None:
//   format_shape({180, 180, 16}, /*with_batch=*/true)  ->  "(None, 180, 180, 16)"
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"

namespace lumen {

using index_t = std::int64_t;

class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<index_t> dims) : dims_(dims) {}
    explicit Shape(std::vector<index_t> dims) : dims_(std::move(dims)) {}

    [[nodiscard]] int rank() const { return static_cast<int>(dims_.size()); }
    [[nodiscard]] index_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
    index_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
    // Negative axes count from the end, as in Python: shape.dim(-1) is the channel count.
    [[nodiscard]] index_t dim(int axis) const {
        const int a = axis < 0 ? axis + rank() : axis;
        require(a >= 0 && a < rank(), "Shape ", to_string(), ": axis ", axis, " is out of range");
        return (*this)[a];
    }
    [[nodiscard]] const std::vector<index_t>& dims() const { return dims_; }

    // Number of elements (1 for a rank-0 shape).
    [[nodiscard]] index_t size() const {
        index_t n = 1;
        for (index_t d : dims_) n *= d;
        return n;
    }

    // The same shape with a batch axis of `batch` in front.
    [[nodiscard]] Shape with_batch(index_t batch) const {
        std::vector<index_t> d{batch};
        d.insert(d.end(), dims_.begin(), dims_.end());
        return Shape(std::move(d));
    }
    // The same shape without its first (batch) axis.
    [[nodiscard]] Shape without_batch() const {
        require(rank() >= 1, "Shape (): has no batch axis to drop");
        return Shape(std::vector<index_t>(dims_.begin() + 1, dims_.end()));
    }

    // Python tuple syntax: "(2, 3)", "(7,)", "()".
    [[nodiscard]] std::string to_string() const { return format(false); }
    // Keras' text for a per-sample shape: "(None, 180, 180, 16)".
    [[nodiscard]] std::string to_keras_string() const { return format(true); }

    friend bool operator==(const Shape&, const Shape&) = default;

private:
    [[nodiscard]] std::string format(bool none_batch) const {
        std::string s = "(";
        bool first = true;
        if (none_batch) {
            s += "None";
            first = false;
        }
        for (index_t d : dims_) {
            if (!first) s += ", ";
            s += std::to_string(d);
            first = false;
        }
        if (!none_batch && dims_.size() == 1) s += ",";
        return s + ")";
    }

    std::vector<index_t> dims_;
};

inline std::ostream& operator<<(std::ostream& out, const Shape& s) { return out << s.to_string(); }

}  // namespace lumen
