// NumpyArrayIterator — what ImageDataGenerator::flow(x, y) returns: batches of in-memory samples, augmented.
//
// x is (N, H, W, C); y is (N, ...) or empty (then batches carry x only). With the generator's
// validation_split v, subset "validation" is the FIRST int(N*v) samples and "training" the rest (spec §1.7);
// both parts must hold the same set of labels unless ignore_class_split.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/ImageDataGenerator.hpp"
#include "lumen/data/KerasIterator.hpp"

namespace lumen::data {

struct FlowOptions {
    index_t batch_size = 32;
    bool shuffle = true;
    std::optional<std::uint32_t> seed{};
    std::string subset{};  // "", "training", "validation"
    bool ignore_class_split = false;
    int workers = -1;  // prefetch threads; -1 = lumen::num_threads(), 0 = none
};

template <class T = float>
class NumpyArrayIterator : public KerasIterator<T> {
public:
    NumpyArrayIterator(const Tensor<T>& x, const Tensor<T>& y, std::shared_ptr<const ImageDataGenerator<T>> generator,
                       const FlowOptions& o)
        : NumpyArrayIterator(split(x, y, *generator, o), generator, o) {}
    ~NumpyArrayIterator() override { this->stop_workers(); }

    [[nodiscard]] const Tensor<T>& x() const { return x_; }
    [[nodiscard]] const Tensor<T>& y() const { return y_; }

protected:
    Tensor<T> load(index_t j) override {
        Tensor<T> s(x_.shape().without_batch());
        std::copy_n(x_.data() + j * s.size(), s.size(), s.data());
        return s;
    }
    Tensor<T> targets(const std::vector<index_t>& idx, const Tensor<T>&) override {
        if (y_.empty()) return {};
        Shape s = y_.shape();
        s[0] = index_t(idx.size());
        Tensor<T> out(s);
        const index_t per = y_.size() / y_.dim(0);
        for (std::size_t k = 0; k < idx.size(); ++k) std::copy_n(y_.data() + idx[k] * per, per, out.data() + index_t(k) * per);
        return out;
    }

private:
    using Parts = std::pair<Tensor<T>, Tensor<T>>;
    static Parts split(const Tensor<T>& x, const Tensor<T>& y, const ImageDataGenerator<T>& gen, const FlowOptions& o) {
        const std::string who = "ImageDataGenerator.flow";
        require(x.rank() == 4, who, ": x must have rank 4 (samples, height, width, channels), got ", x.shape().to_string());
        require(y.empty() || (y.rank() >= 1 && y.dim(0) == x.dim(0)), who,
                ": x and y must have the same number of samples, got x ", x.shape().to_string(), " and y ",
                y.shape().to_string());
        require(o.subset.empty() || o.subset == "training" || o.subset == "validation", who,
                ": subset must be \"training\" or \"validation\", got \"", o.subset, "\"");
        if (o.subset.empty()) return {x, y};
        const index_t split_idx = index_t(double(x.dim(0)) * gen.options().validation_split);
        if (!y.empty() && !o.ignore_class_split && y.rank() == 1) {
            std::set<T> a(y.begin(), y.begin() + split_idx), b(y.begin() + split_idx, y.end());
            require(a == b, who, ": training and validation subsets have different numbers of classes after the "
                                 "split; pass ignore_class_split = true to allow it");
        }
        const index_t lo = o.subset == "validation" ? 0 : split_idx;
        const index_t hi = o.subset == "validation" ? split_idx : x.dim(0);
        return {x.slice(lo, hi), y.empty() ? y : y.slice(lo, hi)};
    }

    NumpyArrayIterator(Parts p, std::shared_ptr<const ImageDataGenerator<T>> generator, const FlowOptions& o)
        : KerasIterator<T>(p.first.dim(0), o.batch_size, o.shuffle, o.seed, std::move(generator),
                           p.first.shape().without_batch(), o.workers),
          x_(std::move(p.first)), y_(std::move(p.second)) {}

    Tensor<T> x_, y_;
};

template <class T>
NumpyArrayIterator<T> ImageDataGenerator<T>::flow(const Tensor<T>& x, const Tensor<T>& y, const FlowOptions& options) const {
    return NumpyArrayIterator<T>(x, y, std::make_shared<const ImageDataGenerator<T>>(*this), options);
}
template <class T>
NumpyArrayIterator<T> ImageDataGenerator<T>::flow(const Tensor<T>& x, const Tensor<T>& y) const {
    return flow(x, y, FlowOptions{});
}

}  // namespace lumen::data
