// Golden cases for Dense, Flatten, the activations relu / sigmoid / tanh / softmax and the initializer
// constants (../shared/golden). Layers run in float with 1 and 2 threads; for the initializers the file's fans,
// limits and stddevs are compared with compute_fans() and the values Initializer draws with.
#include <cmath>
#include <string>

#include "lumen/core/threads.hpp"
#include "lumen/layers/Activation.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/initializers.hpp"
#include "support/golden.hpp"

using namespace lumen;
using namespace lumen::test;

namespace {

// Forward and backward of `layer` on the case's input and grad_output with 1 and 2 threads; `extra` checks
// parameter gradients after each backward.
template <class Extra>
void run_layer(const GoldenCase& c, layers::Layer<float>& layer, Extra extra) {
    const Tensor<float> x = c.tensor("input");
    if (!layer.built()) layer.build(x.shape().without_batch());
    const int saved = num_threads();
    for (int threads : {1, 2}) {
        INFO("threads " << threads);
        set_num_threads(threads);
        layer.zero_grad();
        const Tensor<float> y = layer.forward(x, true);
        REQUIRE(y.shape() == c.tensor("output").shape());
        check_close("output", y, c, "output");
        const Tensor<float> dx = layer.backward(c.tensor("grad_output"));
        REQUIRE(dx.shape() == x.shape());
        check_close("grad_input", dx, c, "grad_input");
        extra();
    }
    set_num_threads(saved);
}

void run_activation(const GoldenCase& c, const std::string& name) {
    if (name == "softmax") REQUIRE(c.integer("axis") == -1);
    layers::Activation<float> act(name);
    run_layer(c, act, [] {});
}

}  // namespace

LUMEN_GOLDEN_HANDLER("dense") {
    const bool use_bias = c.integer("use_bias") == 1;
    layers::Dense<float> dense(c.integer("units"), {.use_bias = use_bias});
    const Tensor<float> x = c.tensor("input");
    CHECK(dense.build(x.shape().without_batch()) == Shape{c.integer("units")});
    REQUIRE(dense.kernel().value.shape() == c.tensor("kernel").shape());
    dense.kernel().value = c.tensor("kernel");
    if (use_bias) dense.bias().value = c.tensor("bias");
    run_layer(c, dense, [&] {
        check_close("grad_kernel", dense.kernel().grad, c, "grad_kernel");
        if (use_bias) check_close("grad_bias", dense.bias().grad, c, "grad_bias");
    });
}

LUMEN_GOLDEN_HANDLER("flatten") {
    layers::Flatten<float> flatten;
    run_layer(c, flatten, [] {});
}

LUMEN_GOLDEN_HANDLER("relu") { run_activation(c, "relu"); }
LUMEN_GOLDEN_HANDLER("sigmoid") { run_activation(c, "sigmoid"); }
LUMEN_GOLDEN_HANDLER("tanh") { run_activation(c, "tanh"); }
LUMEN_GOLDEN_HANDLER("softmax") { run_activation(c, "softmax"); }

LUMEN_GOLDEN_HANDLER("initializers") {
    const int shapes = c.integer("num_shapes");
    REQUIRE(shapes >= 1);
    for (int i = 0; i < shapes; ++i) {
        const std::string k = "_" + std::to_string(i);
        const Tensor<double> dims = c.tensor<double>("shape" + k);
        std::vector<index_t> d;
        for (double v : dims) d.push_back(static_cast<index_t>(v));
        const Shape shape(d);
        INFO("shape " << shape.to_string());
        const Fans f = compute_fans(shape);
        const Tensor<double> fans = c.tensor<double>("fan_in_out" + k);
        CHECK(f.fan_in == fans[0]);
        CHECK(f.fan_out == fans[1]);
        auto one = [](double v) { return Tensor<double>(Shape{1}, v); };
        check_close("glorot_uniform limit", one(Initializer("glorot_uniform").uniform_limit(shape)), c,
                    "glorot_uniform_limit" + k);
        check_close("he_uniform limit", one(Initializer("he_uniform").uniform_limit(shape)), c,
                    "he_uniform_limit" + k);
        check_close("lecun_uniform limit", one(Initializer("lecun_uniform").uniform_limit(shape)), c,
                    "lecun_uniform_limit" + k);
        check_close("glorot_normal stddev", one(Initializer("glorot_normal").truncated_stddev(shape)), c,
                    "glorot_normal_stddev" + k);
        check_close("he_normal stddev", one(Initializer("he_normal").truncated_stddev(shape)), c,
                    "he_normal_stddev" + k);
        check_close("lecun_normal stddev", one(Initializer("lecun_normal").truncated_stddev(shape)), c,
                    "lecun_normal_stddev" + k);
        // The file's numbers are printed to 9 digits: they also pin the constants tighter than the default bound.
        check_close("glorot_uniform limit (tight)", one(Initializer("glorot_uniform").uniform_limit(shape)),
                    c.tensor<double>("glorot_uniform_limit" + k), 0, 1e-8);
        check_close("he_normal stddev (tight)", one(Initializer("he_normal").truncated_stddev(shape)),
                    c.tensor<double>("he_normal_stddev" + k), 0, 1e-8);
        // Draws honour the limits the file gives.
        Tensor<double> w(shape);
        Generator g(std::uint64_t(i) + 1);
        Initializer("glorot_uniform")(w, g);
        for (double v : w) CHECK(std::abs(v) <= c.tensor<double>("glorot_uniform_limit" + k)[0] * (1 + 1e-8));
        Initializer("lecun_normal")(w, g);
        for (double v : w) CHECK(std::abs(v) <= 2 * c.tensor<double>("lecun_normal_stddev" + k)[0] * (1 + 1e-8));
    }
}
