// ImageDataGenerator — Keras' real-time augmentation, every parameter of spec §1, in Keras' order of operations.
//
//   data::ImageDataGenerator gen({.rotation_range = 40, .width_shift_range = 0.2, .height_shift_range = 0.2,
//                                 .shear_range = 0.2, .zoom_range = 0.2, .fill_mode = "nearest",
//                                 .horizontal_flip = true, .rescale = 1.0 / 255});
// (C++ designated initialisers must follow the declaration order of ImageDataGeneratorOptions below.)
//   auto train = gen.flow_from_directory("cats_vs_dogs/train", {.target_size = {150, 150}, .class_mode = "binary"});
//   model.fit(train, {.epochs = 100});
//
// Per image (spec §1.3): params = get_random_transform (numpy's draw order, numpy's RNG bit for bit), then
// apply_transform: 1 one affine resample (rotation, shift, shear, zoom about the centre, bilinear, scipy fill
// modes), 2 channel shift, 3 horizontal flip, 4 vertical flip, 5 brightness (PIL rules); then standardize:
// preprocessing_function, rescale, samplewise centre/std, featurewise centre/std (from fit()).
// Deliberate departure (docs/data.md): since Keras 2.9 the shift drawn from height_shift_range (scaled by the
// height) moves the image horizontally and vice versa (keras#17398). lumen moves rows by the height shift and
// columns by the width shift, as the documentation of both parameters says, and rotates about the true centre
// ((H-1)/2, (W-1)/2) also for non-square images. Draw order and everything else follow Keras 2.15.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/numpy_random.hpp"
#include "lumen/kernels/affine.hpp"

namespace lumen::data {

// width_shift_range / height_shift_range: a float r (U(-r, r); a fraction of the size if < 1, else pixels), an
// int n (pixels from {0..n-1} with a random sign), or a list of choices (random element, random sign).
struct ShiftRange {
    std::vector<double> choices;  // int n -> {0, ..., n-1}; list -> the list; empty for a float
    double range = 0;             // the float, or max(choices)
    bool is_float = true;
    ShiftRange() = default;
    ShiftRange(double r) : range(r) {}  // NOLINT: implicit, as Keras takes a bare number
    ShiftRange(int n) : range(n), is_float(false) {
        for (int i = 0; i < n; ++i) choices.push_back(i);
    }
    ShiftRange(std::initializer_list<double> list) : choices(list), is_float(false) {
        range = choices.empty() ? 0 : *std::max_element(choices.begin(), choices.end());
    }
    [[nodiscard]] bool active() const { return is_float ? range != 0 : !choices.empty(); }
};

// zoom_range: a float z means [1 - z, 1 + z]; a pair {lo, hi} is used as is.
struct ZoomRange {
    double lo = 1, hi = 1;
    ZoomRange() = default;
    ZoomRange(double z) : lo(1 - z), hi(1 + z) {}  // NOLINT: implicit, as Keras takes a bare number
    ZoomRange(double l, double h) : lo(l), hi(h) {}
};

template <class T = float>
struct ImageDataGeneratorOptions {
    bool featurewise_center = false;
    bool samplewise_center = false;
    bool featurewise_std_normalization = false;
    bool samplewise_std_normalization = false;
    double rotation_range = 0;  // degrees
    ShiftRange width_shift_range{};
    ShiftRange height_shift_range{};
    std::optional<std::array<double, 2>> brightness_range{};
    double shear_range = 0;  // degrees
    ZoomRange zoom_range{};
    double channel_shift_range = 0;
    std::string fill_mode = "nearest";
    double cval = 0;
    bool horizontal_flip = false;
    bool vertical_flip = false;
    double rescale = 0;  // 0 = None
    std::function<void(Tensor<T>&)> preprocessing_function{};  // (H, W, C) in place
    std::string data_format = "channels_last";
    double validation_split = 0;
    int interpolation_order = 1;  // 1 bilinear, 0 nearest
};

// One draw of get_random_transform (Keras' dict), in Keras' names and units.
struct TransformParams {
    double theta = 0;   // degrees
    double tx = 0;      // from height_shift_range, pixels (moves rows in lumen)
    double ty = 0;      // from width_shift_range, pixels (moves columns in lumen)
    double shear = 0;   // degrees
    double zx = 1, zy = 1;
    bool flip_horizontal = false, flip_vertical = false;
    double channel_shift_intensity = 0;
    std::optional<double> brightness{};
};

template <class T>
class DirectoryIterator;
template <class T>
class NumpyArrayIterator;
struct FlowFromDirectoryOptions;
struct FlowOptions;

template <class T = float>
class ImageDataGenerator {
public:
    using Options = ImageDataGeneratorOptions<T>;
    explicit ImageDataGenerator(Options o = {}) : o_(std::move(o)) {
        const std::string who = "ImageDataGenerator";
        require(o_.data_format == "channels_last", who,
                ": data_format must be \"channels_last\" (lumen tensors are NHWC), got \"", o_.data_format, "\"");
        require(o_.validation_split == 0 || (o_.validation_split > 0 && o_.validation_split < 1), who,
                ": validation_split must be strictly between 0 and 1, got ", o_.validation_split);
        require(o_.zoom_range.lo > 0 && o_.zoom_range.lo <= o_.zoom_range.hi, who,
                ": zoom_range must be a float or a pair (lo, hi) with 0 < lo <= hi, got (", o_.zoom_range.lo, ", ",
                o_.zoom_range.hi, ")");
        require(!o_.brightness_range || (*o_.brightness_range)[0] <= (*o_.brightness_range)[1], who,
                ": brightness_range must be (lo, hi) with lo <= hi");
        require(o_.interpolation_order == 0 || o_.interpolation_order == 1, who,
                ": interpolation_order must be 0 or 1, got ", o_.interpolation_order);
        require(o_.rotation_range >= 0 && o_.shear_range >= 0 && o_.channel_shift_range >= 0, who,
                ": rotation_range, shear_range and channel_shift_range must be >= 0");
        fill_ = kernels::parse_fill_mode(o_.fill_mode, who);
        if (o_.featurewise_std_normalization && !o_.featurewise_center) {
            std::cerr << "UserWarning: This ImageDataGenerator specifies `featurewise_std_normalization`, which "
                         "overrides setting of `featurewise_center`.\n";
            o_.featurewise_center = true;
        }
        if (o_.samplewise_std_normalization && !o_.samplewise_center) {
            std::cerr << "UserWarning: This ImageDataGenerator specifies `samplewise_std_normalization`, which "
                         "overrides setting of `samplewise_center`.\n";
            o_.samplewise_center = true;
        }
    }

    [[nodiscard]] const Options& options() const { return o_; }

    // Keras' get_random_transform for an image of (height, width): draws in Keras' order from `rng`.
    TransformParams get_random_transform(index_t height, index_t width, NumpyRandomState& rng) const {
        TransformParams p;
        if (o_.rotation_range != 0) p.theta = rng.uniform(-o_.rotation_range, o_.rotation_range);
        auto shift = [&](const ShiftRange& r, index_t size) {
            double v;
            if (!r.is_float) {
                v = r.choices[std::size_t(rng.randint(index_t(r.choices.size())))];
                v *= rng.randint(2) == 0 ? -1.0 : 1.0;  // np.random.choice([-1, 1])
            } else {
                v = rng.uniform(-r.range, r.range);
            }
            if (r.range < 1) v *= double(size);
            return v;
        };
        if (o_.height_shift_range.active()) p.tx = shift(o_.height_shift_range, height);
        if (o_.width_shift_range.active()) p.ty = shift(o_.width_shift_range, width);
        if (o_.shear_range != 0) p.shear = rng.uniform(-o_.shear_range, o_.shear_range);
        if (!(o_.zoom_range.lo == 1 && o_.zoom_range.hi == 1)) {
            p.zx = rng.uniform(o_.zoom_range.lo, o_.zoom_range.hi);
            p.zy = rng.uniform(o_.zoom_range.lo, o_.zoom_range.hi);
        }
        p.flip_horizontal = rng.random_sample() < 0.5 && o_.horizontal_flip;
        p.flip_vertical = rng.random_sample() < 0.5 && o_.vertical_flip;
        if (o_.channel_shift_range != 0)
            p.channel_shift_intensity = rng.uniform(-o_.channel_shift_range, o_.channel_shift_range);
        if (o_.brightness_range) p.brightness = rng.uniform((*o_.brightness_range)[0], (*o_.brightness_range)[1]);
        return p;
    }

    // The output->input map of the geometric part, in (x = column, y = row), centred on the image centre:
    // Off(c) · R · T · Sh · Z · Off(-c).
    static kernels::Affine2D transform_matrix(const TransformParams& p, index_t height, index_t width) {
        constexpr double deg = 3.14159265358979323846 / 180.0;
        using kernels::Affine2D;
        Affine2D m;
        if (p.theta != 0) {
            const double t = p.theta * deg;
            m = m * Affine2D{{std::cos(t), -std::sin(t), 0, std::sin(t), std::cos(t), 0}};
        }
        if (p.tx != 0 || p.ty != 0) m = m * Affine2D::translation(p.ty, p.tx);  // columns by ty, rows by tx
        if (p.shear != 0) {
            const double s = p.shear * deg;
            m = m * Affine2D{{1, -std::sin(s), 0, 0, std::cos(s), 0}};
        }
        if (p.zx != 1 || p.zy != 1) m = m * Affine2D{{p.zx, 0, 0, 0, p.zy, 0}};
        if (m.is_identity()) return m;
        const double cx = double(width - 1) / 2, cy = double(height - 1) / 2;
        return Affine2D::translation(cx, cy) * m * Affine2D::translation(-cx, -cy);
    }

    // Keras' apply_transform on one (H, W, C) image.
    Tensor<T> apply_transform(Tensor<T> x, const TransformParams& p) const {
        require(x.rank() == 3, "ImageDataGenerator.apply_transform: expected (height, width, channels), got ",
                x.shape().to_string());
        const index_t H = x.dim(0), W = x.dim(1), C = x.dim(2);
        const kernels::Affine2D m = transform_matrix(p, H, W);
        if (!m.is_identity()) {
            Tensor<T> out(x.shape());
            kernels::affine_warp(x.data(), H, W, C, out.data(), m, fill_, static_cast<T>(o_.cval),
                                 kernels::Boundary::scipy, o_.interpolation_order == 0);
            x = std::move(out);
        }
        if (p.channel_shift_intensity != 0) {
            const T lo = x.array().minCoeff(), hi = x.array().maxCoeff();
            const T shift = static_cast<T>(p.channel_shift_intensity);
            for (T& v : x) v = std::clamp(v + shift, lo, hi);
        }
        if (p.flip_horizontal) kernels::flip_horizontal(x.data(), H, W, C);
        if (p.flip_vertical) kernels::flip_vertical(x.data(), H, W, C);
        if (p.brightness) apply_brightness_shift(x, *p.brightness);
        return x;
    }

    // Keras 2.9+ apply_brightness_shift(scale=False): PIL ImageEnhance.Brightness on the uint8-truncated image,
    // with a min..max -> 0..255 round trip when the values leave [0, 255].
    static void apply_brightness_shift(Tensor<T>& x, double b) {
        if (x.size() == 0) return;
        const double lo = double(x.array().minCoeff()), hi = double(x.array().maxCoeff());
        const bool remap = lo < 0 || hi > 255;
        const double span = hi - lo > 0 ? hi - lo : 1;
        for (T& v : x) {
            double u = remap ? (double(v) - lo) / span * 255.0 : double(v);
            u = double(int(std::clamp(u, 0.0, 255.0)));     // uint8 cast truncates
            u = double(int(std::clamp(b * u, 0.0, 255.0)));  // PIL blend with black: truncated, clipped
            v = static_cast<T>(remap ? u / 255.0 * span + lo : u);
        }
    }

    // Keras' standardize on one (H, W, C) image.
    Tensor<T> standardize(Tensor<T> x) const {
        if (o_.preprocessing_function) o_.preprocessing_function(x);
        if (o_.rescale != 0) x.array() *= static_cast<T>(o_.rescale);
        if (o_.samplewise_center) x.array() -= x.array().mean();
        if (o_.samplewise_std_normalization) {
            const T mean = x.array().mean();
            const T sd = std::sqrt((x.array() - mean).square().mean());
            x.array() /= sd + T(1e-6);
        }
        const index_t C = x.dim(-1);
        if (o_.featurewise_center) {
            if (mean_.empty()) warn_unfitted("featurewise_center");
            else for (index_t i = 0; i < x.size(); ++i) x[i] -= mean_[std::size_t(i % C)];
        }
        if (o_.featurewise_std_normalization) {
            if (std_.empty()) warn_unfitted("featurewise_std_normalization");
            else for (index_t i = 0; i < x.size(); ++i) x[i] /= std_[std::size_t(i % C)] + T(1e-6);
        }
        return x;
    }

    // Keras' random_transform(x, seed): draw parameters (numpy seeded with `seed` if given) and apply them.
    Tensor<T> random_transform(const Tensor<T>& x, std::optional<std::uint32_t> seed = {}) const {
        NumpyRandomState rng(seed.value_or(0));
        return apply_transform(x, get_random_transform(x.dim(0), x.dim(1), rng));
    }

    // Keras' fit: per-channel mean and population std of x (N, H, W, C), after rescale (and `rounds` random
    // augmentations if `augment`), for featurewise_center / featurewise_std_normalization.
    void fit(const Tensor<T>& x, bool augment = false, int rounds = 1, std::uint32_t seed = 0) {
        require(x.rank() == 4, "ImageDataGenerator.fit: expected input of rank 4 (samples, height, width, channels), got ",
                x.shape().to_string());
        require(rounds >= 1, "ImageDataGenerator.fit: rounds must be >= 1, got ", rounds);
        const index_t N = x.dim(0), C = x.dim(3), per = x.size() / std::max<index_t>(1, N);
        Tensor<T> data = x;
        if (o_.rescale != 0) data.array() *= static_cast<T>(o_.rescale);
        if (augment) {
            Tensor<T> aug(Shape{N * rounds, x.dim(1), x.dim(2), C});
            NumpyRandomState rng(seed);
            for (int r = 0; r < rounds; ++r)
                for (index_t n = 0; n < N; ++n) {
                    Tensor<T> one(Shape{x.dim(1), x.dim(2), C});
                    std::copy_n(data.data() + n * per, per, one.data());
                    one = apply_transform(std::move(one), get_random_transform(x.dim(1), x.dim(2), rng));
                    std::copy_n(one.data(), per, aug.data() + (r * N + n) * per);
                }
            data = std::move(aug);
        }
        const index_t count = data.size() / C;
        if (o_.featurewise_center) {
            mean_.assign(std::size_t(C), T(0));
            std::vector<double> sum(std::size_t(C), 0.0);
            for (index_t i = 0; i < data.size(); ++i) sum[std::size_t(i % C)] += double(data[i]);
            for (index_t c = 0; c < C; ++c) mean_[std::size_t(c)] = static_cast<T>(sum[std::size_t(c)] / double(count));
            for (index_t i = 0; i < data.size(); ++i) data[i] -= mean_[std::size_t(i % C)];
        }
        if (o_.featurewise_std_normalization) {
            std_.assign(std::size_t(C), T(0));
            std::vector<double> sq(std::size_t(C), 0.0);
            for (index_t i = 0; i < data.size(); ++i) sq[std::size_t(i % C)] += double(data[i]) * double(data[i]);
            for (index_t c = 0; c < C; ++c) std_[std::size_t(c)] = static_cast<T>(std::sqrt(sq[std::size_t(c)] / double(count)));
        }
    }
    [[nodiscard]] const std::vector<T>& mean() const { return mean_; }
    [[nodiscard]] const std::vector<T>& std() const { return std_; }

    // Keras' flow_from_directory and flow (defined in DirectoryIterator.hpp / NumpyArrayIterator.hpp).
    DirectoryIterator<T> flow_from_directory(const std::filesystem::path& directory,
                                             const FlowFromDirectoryOptions& options) const;
    DirectoryIterator<T> flow_from_directory(const std::filesystem::path& directory) const;
    NumpyArrayIterator<T> flow(const Tensor<T>& x, const Tensor<T>& y, const FlowOptions& options) const;
    NumpyArrayIterator<T> flow(const Tensor<T>& x, const Tensor<T>& y) const;

private:
    static void warn_unfitted(const char* what) {
        std::cerr << "UserWarning: This ImageDataGenerator specifies `" << what
                  << "`, but it hasn't been fit on any training data. Fit it first by calling `.fit(numpy_data)`.\n";
    }

    Options o_;
    kernels::FillMode fill_ = kernels::FillMode::nearest;
    std::vector<T> mean_, std_;
};

}  // namespace lumen::data

#include "lumen/data/DirectoryIterator.hpp"
#include "lumen/data/NumpyArrayIterator.hpp"
