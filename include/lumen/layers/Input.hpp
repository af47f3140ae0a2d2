// Input: the per-sample input shape of a model, Keras' keras.Input(shape) / layers.InputLayer.
//
//   Sequential model({layers::Input({180, 180, 3}), layers::Conv2D(16, 3), ...});
//
// It computes nothing (forward and backward are the identity) and has no weights; it only carries the shape,
// which Sequential reads to build every following layer. Like Keras, summary() does not list it.
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/shape.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::layers {

struct InputOptions {
    std::string name = {};
};

template <class T = float>
class Input : public Layer<T> {
public:
    explicit Input(Shape shape, InputOptions options = {}) : shape_(std::move(shape)) {
        this->set_name(options.name);
        for (index_t d : shape_.dims())
            require(d >= 1, this->where(), ": shape dimensions must be >= 1, got ", shape_.to_keras_string());
    }

    [[nodiscard]] std::string class_name() const override { return "InputLayer"; }
    // The per-sample shape, without the batch axis: (180, 180, 3).
    [[nodiscard]] const Shape& shape() const { return shape_; }

    Tensor<T> forward(const Tensor<T>& x, bool /*training*/) override {
        this->check_input(x);
        return x;
    }
    Tensor<T> backward(const Tensor<T>& dy) override {
        require(dy.rank() >= 1, this->where(), ": backward() expected a gradient of shape ",
                shape_.to_keras_string(), ", got ", dy.shape().to_string());
        this->check_grad(dy, dy.dim(0));
        return dy;
    }

    // Keras writes batch_input_shape: [null, 180, 180, 3]; lumen writes "(None, 180, 180, 3)".
    [[nodiscard]] Config get_config() const override {
        return {{"name", this->name()}, {"batch_input_shape", shape_.to_keras_string()}};
    }
    static std::shared_ptr<Layer<T>> from_config(const Config& c) {
        std::string text = config_value(c, "batch_input_shape", "InputLayer");
        for (char& ch : text)
            if (ch == '(' || ch == ')' || ch == ',' || ch == '[' || ch == ']') ch = ' ';
        std::istringstream in(text);
        std::vector<index_t> dims;
        std::string word;
        bool first = true;
        while (in >> word) {
            if (first && (word == "None" || word == "null")) {
                first = false;
                continue;
            }
            first = false;
            std::istringstream number(word);
            index_t d = 0;
            require(static_cast<bool>(number >> d) && (number >> std::ws).eof(), "InputLayer: cannot read ",
                    "batch_input_shape \"", config_value(c, "batch_input_shape", "InputLayer"), "\"");
            dims.push_back(d);
        }
        return std::make_shared<Input<T>>(Shape(std::move(dims)),
                                          InputOptions{.name = config_value(c, "name", "InputLayer")});
    }

protected:
    Shape build_impl(const Shape& s) override {
        require(s == shape_, this->where(), ": built for input ", s.to_keras_string(), " but declared ",
                shape_.to_keras_string());
        return shape_;
    }

private:
    Shape shape_;
};

}  // namespace lumen::layers
