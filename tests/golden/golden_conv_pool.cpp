// Golden cases for Conv2D, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D (../shared/golden).
// Each case is run in float with 1 and 2 threads; the derived output size and pads of the file are checked
// against conv_geometry() separately, so a shape-rule mistake is reported as such.
#include <algorithm>
#include <optional>

#include "lumen/core/threads.hpp"
#include "lumen/kernels/conv_geometry.hpp"
#include "lumen/layers/AveragePooling2D.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/GlobalAveragePooling2D.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "support/golden.hpp"

using namespace lumen;
using namespace lumen::test;
using lumen::kernels::Size2;

namespace {

Size2 size2(const GoldenCase& c, const std::string& key) { return {c.integer(key, 0), c.integer(key, 1)}; }

// The file's derived output_size / pad_top_bottom / pad_left_right against our geometry.
void check_geometry(const GoldenCase& c, const kernels::ConvGeometry& g) {
    INFO("geometry of " << c.name);
    CHECK(g.oh == c.integer("output_size", 0));
    CHECK(g.ow == c.integer("output_size", 1));
    CHECK(g.pad_top == c.integer("pad_top_bottom", 0));
    CHECK(g.pad_bottom == c.integer("pad_top_bottom", 1));
    CHECK(g.pad_left == c.integer("pad_left_right", 0));
    CHECK(g.pad_right == c.integer("pad_left_right", 1));
}

// Runs forward and backward of `layer` on the case's input and grad_output with 1 and 2 threads.
template <class L, class Check>
void run_threads(const GoldenCase& c, L& layer, Check extra) {
    const Tensor<float> x = c.tensor("input");
    const int saved = num_threads();
    for (int threads : {1, 2}) {
        INFO("threads " << threads);
        set_num_threads(threads);
        layer.zero_grad();
        const Tensor<float> y = layer.forward(x, false);
        check_close("output", y, c, "output");
        const Tensor<float> dx = layer.backward(c.tensor("grad_output"));
        check_close("grad_input", dx, c, "grad_input");
        extra();
    }
    set_num_threads(saved);
}

}  // namespace

LUMEN_GOLDEN_HANDLER("conv2d") {
    const Tensor<float> x = c.tensor("input");
    const Size2 k = size2(c, "kernel_size");
    layers::Conv2D<float> conv(c.integer("filters"), k,
                               {.strides = size2(c, "strides"),
                                .padding = c.str("padding"),
                                .dilation_rate = size2(c, "dilation_rate"),
                                .use_bias = c.integer("use_bias") == 1});
    const Shape out = conv.build(x.shape().without_batch());
    CHECK(out == Shape{c.integer("output_size", 0), c.integer("output_size", 1), c.integer("filters")});
    check_geometry(c, kernels::conv_geometry(x.dim(0), x.dim(1), x.dim(2), x.dim(3), k, size2(c, "strides"),
                                             size2(c, "dilation_rate"),
                                             kernels::padding_from_name(c.str("padding"), c.name), c.name));
    conv.kernel().value = c.tensor("kernel");
    if (c.integer("use_bias") == 1) conv.bias().value = c.tensor("bias");
    run_threads(c, conv, [&] {
        check_close("grad_kernel", conv.kernel().grad, c, "grad_kernel");
        if (c.integer("use_bias") == 1) check_close("grad_bias", conv.bias().grad, c, "grad_bias");
    });
}

namespace {
// Builds a pooling layer as Keras would have been called: strides left at None when the file says so.
template <class Pool, class Options>
Pool make_pool(const GoldenCase& c) {
    Options o{.padding = c.str("padding")};
    if (c.integer("strides_defaulted") == 0) o.strides = size2(c, "strides");
    return Pool(size2(c, "pool_size"), o);
}
template <class Pool>
void check_pool(const GoldenCase& c, Pool& pool) {
    const Tensor<float> x = c.tensor("input");
    const Shape out = pool.build(x.shape().without_batch());
    CHECK(pool.strides() == size2(c, "strides"));
    CHECK(out == Shape{c.integer("output_size", 0), c.integer("output_size", 1), x.dim(3)});
    const auto g = kernels::conv_geometry(x.dim(0), x.dim(1), x.dim(2), x.dim(3), size2(c, "pool_size"),
                                          size2(c, "strides"), 1, pool.padding(), c.name);
    check_geometry(c, g);
    if (c.has_tensor("window_counts")) {  // average pooling: real cells per window
        const Tensor<double> counts = c.tensor<double>("window_counts");
        for (index_t oh = 0; oh < g.oh; ++oh)
            for (index_t ow = 0; ow < g.ow; ++ow) {
                const index_t ih0 = oh * g.sh - g.pad_top, iw0 = ow * g.sw - g.pad_left;
                const index_t rows = std::min(ih0 + g.kh, g.h) - std::max<index_t>(ih0, 0);
                const index_t cols = std::min(iw0 + g.kw, g.w) - std::max<index_t>(iw0, 0);
                CHECK(double(rows * cols) == counts[oh * g.ow + ow]);
            }
    }
    run_threads(c, pool, [] {});
}
}  // namespace

LUMEN_GOLDEN_HANDLER("max_pooling2d") {
    auto pool = make_pool<layers::MaxPooling2D<float>, layers::MaxPooling2DOptions>(c);
    check_pool(c, pool);
}

LUMEN_GOLDEN_HANDLER("average_pooling2d") {
    auto pool = make_pool<layers::AveragePooling2D<float>, layers::AveragePooling2DOptions>(c);
    check_pool(c, pool);
}

LUMEN_GOLDEN_HANDLER("global_average_pooling2d") {
    const Tensor<float> x = c.tensor("input");
    layers::GlobalAveragePooling2D<float> gap;
    CHECK(gap.build(x.shape().without_batch()) == Shape{x.dim(3)});
    run_threads(c, gap, [] {});
}
