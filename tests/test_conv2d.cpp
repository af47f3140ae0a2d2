// Conv2D: central-difference gradient checks in double, backward accumulation, shapes and parameter counts,
// config round trip and argument errors. (The comparison with a naive loop is in test_kernels.cpp.)
#include <catch2/catch.hpp>

#include "lumen/core/threads.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "support/gradcheck.hpp"

using namespace lumen;
using lumen::kernels::Size2;
using layers::Conv2D;

namespace {

struct ConvCase {
    index_t n, h, w, c, filters;
    Size2 kernel, strides, dilation;
    const char* padding;
    const char* activation;
};

// Odd and even sizes, strides 1 and 2 (also mixed), both paddings, dilation, 1x1 (both paths), activations.
const ConvCase kCases[] = {
    {2, 7, 7, 3, 4, 3, 1, 1, "same", "linear"},
    {2, 7, 5, 2, 3, 3, 1, 1, "valid", "relu"},
    {1, 9, 8, 3, 2, 3, 2, 1, "same", "sigmoid"},
    {2, 9, 7, 2, 3, 3, 2, 1, "valid", "tanh"},
    {2, 8, 9, 3, 2, {3, 2}, {2, 1}, 1, "same", "elu"},
    {1, 11, 9, 2, 3, 5, 2, 1, "same", "swish"},
    {2, 9, 9, 2, 2, 3, 1, 2, "same", "gelu"},
    {2, 10, 9, 2, 3, {3, 2}, 1, {2, 3}, "valid", "leaky_relu"},
    {2, 5, 7, 4, 3, 1, 1, 1, "valid", "linear"},  // 1x1 stride 1: the no-im2col path
    {2, 6, 7, 3, 2, 1, 2, 1, "same", "relu"},      // 1x1 stride 2: im2col path
    {3, 6, 5, 3, 5, 3, 1, 1, "same", "softmax"},
    {1, 4, 4, 1, 1, 4, 1, 1, "valid", "linear"},   // kernel as large as the input: 1x1 output
    {2, 3, 3, 2, 2, 5, 1, 1, "same", "tanh"},      // kernel larger than the input, padded
};

Conv2D<double> make(const ConvCase& k, bool use_bias = true) {
    return Conv2D<double>(k.filters, k.kernel,
                          {.strides = k.strides,
                           .padding = k.padding,
                           .dilation_rate = k.dilation,
                           .activation = k.activation,
                           .use_bias = use_bias,
                           .bias_initializer = "glorot_uniform"});  // non-zero, so the bias matters
}

}  // namespace

TEST_CASE("Conv2D input and parameter gradients match central differences", "[conv2d][gradcheck]") {
    const int saved = num_threads();
    int index = 0;
    for (const ConvCase& k : kCases) {
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            Conv2D<double> conv = make(k, index % 3 != 2);
            Generator g(100 + index);
            const Tensor<double> x = test::random_tensor(Shape{k.n, k.h, k.w, k.c}, g);
            INFO("case " << index << " " << k.padding << " " << k.activation << " threads " << threads);
            test::check_layer_gradients(conv, x, {.seed = std::uint64_t(index + 1)});
        }
        ++index;
    }
    set_num_threads(saved);
}

TEST_CASE("Conv2D backward adds into the weight gradients", "[conv2d]") {
    for (const ConvCase& k : {kCases[0], kCases[4], kCases[8]}) {
        Conv2D<double> conv = make(k);
        Generator g(5);
        test::check_backward_accumulates(conv, test::random_tensor(Shape{k.n, k.h, k.w, k.c}, g));
    }
}

TEST_CASE("Conv2D without an input gradient gives the same weight gradients and an empty dx", "[conv2d]") {
    const int saved = num_threads();
    int index = 0;
    for (const ConvCase& k : kCases) {
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            Conv2D<double> conv = make(k);
            conv.build(Shape{k.h, k.w, k.c}, 11);
            Generator g(40 + index);
            const Tensor<double> x = test::random_tensor(Shape{k.n, k.h, k.w, k.c}, g);
            const Tensor<double> y = conv.forward(x, true);
            const Tensor<double> dy = test::random_tensor(y.shape(), g);
            conv.zero_grad();
            const Tensor<double> dx = conv.backward(dy);
            const Tensor<double> dw = conv.kernel().grad, db = conv.bias().grad;
            conv.zero_grad();
            conv.set_input_gradient_needed(false);
            conv.forward(x, true);
            INFO("case " << index << " threads " << threads);
            CHECK(!dx.empty());
            CHECK(conv.backward(dy).empty());
            for (index_t i = 0; i < dw.size(); ++i) REQUIRE(conv.kernel().grad[i] == dw[i]);
            for (index_t i = 0; i < db.size(); ++i) REQUIRE(conv.bias().grad[i] == db[i]);
        }
        ++index;
    }
    set_num_threads(saved);
}

TEST_CASE("Conv2D gradients of a batch doubled by a copy, with halved upstream gradients, are unchanged",
          "[conv2d]") {
    Conv2D<double> conv(3, 3, {.padding = "same", .activation = "relu"});
    conv.build(Shape{6, 5, 2}, 3);
    Generator g(9);
    const Tensor<double> x = test::random_tensor(Shape{2, 6, 5, 2}, g);
    const Tensor<double> dy = test::random_tensor(Shape{2, 6, 5, 3}, g);
    Tensor<double> x2(Shape{4, 6, 5, 2}), dy2(Shape{4, 6, 5, 3});
    for (index_t i = 0; i < x.size(); ++i) x2[i] = x2[i + x.size()] = x[i];
    for (index_t i = 0; i < dy.size(); ++i) dy2[i] = dy2[i + dy.size()] = dy[i] / 2;
    conv.zero_grad();
    conv.forward(x, true);
    conv.backward(dy);
    const Tensor<double> dw = conv.kernel().grad, db = conv.bias().grad;
    conv.zero_grad();
    conv.forward(x2, true);
    conv.backward(dy2);
    for (index_t i = 0; i < dw.size(); ++i) CHECK(conv.kernel().grad[i] == Approx(dw[i]).margin(1e-12));
    for (index_t i = 0; i < db.size(); ++i) CHECK(conv.bias().grad[i] == Approx(db[i]).margin(1e-12));
}

TEST_CASE("Conv2D output shapes and parameter counts follow Keras", "[conv2d]") {
    // The flowers model of the Keras tutorial: 448, 4640 and 18496 parameters.
    Conv2D<float> c1(16, 3, {.padding = "same", .activation = "relu"});
    CHECK(c1.build(Shape{180, 180, 3}) == Shape{180, 180, 16});
    CHECK(c1.count_params() == 448);
    CHECK(c1.kernel().value.shape() == Shape{3, 3, 3, 16});
    Conv2D<float> c2(32, 3, {.padding = "same", .activation = "relu"});
    CHECK(c2.build(Shape{90, 90, 16}) == Shape{90, 90, 32});
    CHECK(c2.count_params() == 4640);
    Conv2D<float> c3(64, 3, {.padding = "same"});
    CHECK(c3.build(Shape{45, 45, 32}) == Shape{45, 45, 64});
    CHECK(c3.count_params() == 18496);
    CHECK(c3.weights().size() == 2);
    CHECK(c3.weights()[0]->name == "kernel");
    CHECK(c3.weights()[1]->name == "bias");

    CHECK(Conv2D<float>(8, 3).build(Shape{28, 28, 1}) == Shape{26, 26, 8});
    CHECK(Conv2D<float>(8, 3, {.strides = 2}).build(Shape{28, 28, 1}) == Shape{13, 13, 8});
    CHECK(Conv2D<float>(8, 3, {.strides = 2, .padding = "same"}).build(Shape{45, 45, 1}) == Shape{23, 23, 8});
    CHECK(Conv2D<float>(8, 3, {.dilation_rate = 2}).build(Shape{9, 9, 1}) == Shape{5, 5, 8});
    Conv2D<float> nb(4, {1, 2}, {.use_bias = false});
    CHECK(nb.build(Shape{5, 5, 3}) == Shape{5, 4, 4});
    CHECK(nb.count_params() == 24);
    CHECK(nb.weights().size() == 1);
}

TEST_CASE("Conv2D kernel initialiser, regularizer and bias initialiser are honoured", "[conv2d]") {
    Conv2D<float> c(16, 3, {.kernel_initializer = "ones", .bias_initializer = constant(0.5),
                            .kernel_regularizer = regularizers::l2(0.001)});
    c.build(Shape{8, 8, 3});
    for (float v : c.kernel().value) CHECK(v == 1.0f);
    for (float v : c.bias().value) CHECK(v == 0.5f);
    CHECK(c.kernel().regularizer.l2 == 0.001);
    CHECK(!c.bias().regularizer.active());

    Conv2D<double> d(16, 3);  // glorot_uniform: limit sqrt(6 / (27 + 144)) = 0.18732 (keras-reference §5)
    d.build(Shape{8, 8, 3}, 11);
    double biggest = 0;
    for (double v : d.kernel().value) biggest = std::max(biggest, std::abs(v));
    CHECK(biggest <= 0.18732);
    CHECK(biggest > 0.15);
    for (double v : d.bias().value) CHECK(v == 0.0);
}

TEST_CASE("Conv2D config round trip rebuilds the same layer", "[conv2d]") {
    Conv2D<float> c(12, {3, 2}, {.strides = {2, 1}, .padding = "same", .activation = "relu", .use_bias = false,
                                 .kernel_initializer = "he_normal", .kernel_regularizer = regularizers::l1_l2(0.25, 0.1),
                                 .name = "conv2d_7"});
    const Config cfg = c.get_config();
    CHECK(config_value(cfg, "kernel_size", "t") == "3,2");
    CHECK(config_value(cfg, "strides", "t") == "2,1");
    CHECK(config_value(cfg, "padding", "t") == "same");
    CHECK(config_value(cfg, "activation", "t") == "relu");
    auto r = Conv2D<float>::from_config(cfg);
    CHECK(r->get_config() == cfg);
    CHECK(r->name() == "conv2d_7");
    auto* rc = dynamic_cast<Conv2D<float>*>(r.get());
    REQUIRE(rc != nullptr);
    CHECK(rc->options().kernel_regularizer.l1 == 0.25);
    CHECK(rc->options().kernel_regularizer.l2 == 0.1);
}

TEST_CASE("Conv2D rejects bad arguments with a message naming layer, argument and shapes", "[conv2d][errors]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(Conv2D<float>(0, 3, {.name = "c"}), Contains("Conv2D \"c\"") && Contains("filters"));
    CHECK_THROWS_WITH(Conv2D<float>(-4, 3), Contains("filters"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 0), Contains("kernel_size"));
    CHECK_THROWS_WITH(Conv2D<float>(4, {3, -1}), Contains("kernel_size"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.strides = 0}), Contains("strides"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.strides = {1, 0}}), Contains("strides"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.dilation_rate = 0}), Contains("dilation_rate"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.strides = 2, .dilation_rate = 2}),
                      Contains("dilation_rate") && Contains("strides"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.padding = "SAME"}), Contains("padding") && Contains("SAME"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.activation = "rellu"}), Contains("rellu"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.kernel_initializer = "glorot_uniformm"}),
                      Contains("kernel_initializer") && Contains("glorot_uniformm"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.bias_initializer = "zeroes"}), Contains("bias_initializer"));
    CHECK_THROWS_WITH(Conv2D<float>(4, 3, {.kernel_regularizer = regularizers::l2(-1.0)}),
                      Contains("kernel_regularizer"));

    Conv2D<float> big(4, 5, {.name = "conv2d_3"});
    CHECK_THROWS_WITH(big.build(Shape{4, 9, 3}), Contains("conv2d_3") && Contains("valid") && Contains("height"));
    Conv2D<float> dil(4, 3, {.dilation_rate = 3});  // effective size 7
    CHECK_THROWS_WITH(dil.build(Shape{6, 9, 3}), Contains("dilation") && Contains("7"));
    CHECK_NOTHROW(Conv2D<float>(4, 5, {.padding = "same"}).build(Shape{4, 9, 3}));

    Conv2D<float> flat(4, 3, {.name = "conv2d"});
    CHECK_THROWS_WITH(flat.build(Shape{784}), Contains("conv2d") && Contains("(None, 784)") && Contains("Reshape"));
    CHECK_THROWS_WITH(flat.build(Shape{28, 28}), Contains("(None, 28, 28)"));
    CHECK_THROWS_WITH(flat.build(Shape{32, 28, 28, 1}), Contains("batch"));
    CHECK_THROWS_WITH(flat.build(Shape{28, 0, 1}), Contains("(None, 28, 0, 1)"));

    Conv2D<float> ok(4, 3);
    ok.build(Shape{8, 8, 3});
    CHECK_THROWS_WITH(ok.forward(Tensor<float>(Shape{2, 8, 8, 1}), false),
                      Contains("(None, 8, 8, 3)") && Contains("(2, 8, 8, 1)"));
    CHECK_THROWS_AS(ok.backward(Tensor<float>(Shape{2, 6, 6, 4})), Error);  // before any forward
    ok.forward(Tensor<float>(Shape{2, 8, 8, 3}), false);
    CHECK_THROWS_WITH(ok.backward(Tensor<float>(Shape{2, 6, 6, 5})), Contains("(2, 6, 6, 4)"));
}

// ---- Winograd F(2x2, 3x3) (kernels/winograd.hpp): the same layer, forced onto either path ----

namespace {

struct WinoCase {
    index_t n, h, w, c, filters;
    const char* padding;
    const char* activation;
};
// Odd and even outputs (half-used last tiles), both paddings, channel counts off the 16-lane vectors, one
// image smaller than a tile, images of several chunks (tiling(): about 96 tiles a chunk).
const WinoCase kWinoCases[] = {
    {2, 7, 6, 3, 5, "same", "relu"},     {2, 8, 9, 2, 3, "valid", "linear"}, {1, 3, 3, 1, 1, "valid", "relu"},
    {2, 5, 4, 17, 2, "same", "linear"},  {1, 2, 2, 2, 3, "same", "relu"},    {1, 30, 27, 2, 2, "same", "relu"},
};

template <class T>
Conv2D<T> make_wino(const WinoCase& k, layers::ConvAlgorithm a, bool use_bias = true) {
    Conv2D<T> conv(k.filters, 3,
                   {.padding = k.padding, .activation = k.activation, .use_bias = use_bias,
                    .bias_initializer = "glorot_uniform"});
    conv.set_algorithm(a);
    conv.build(Shape{k.h, k.w, k.c}, 21);
    return conv;
}

}  // namespace

TEST_CASE("Conv2D on the Winograd path matches central differences", "[conv2d][gradcheck][winograd]") {
    const int saved = num_threads();
    int index = 0;
    for (const WinoCase& k : kWinoCases) {
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            Conv2D<double> conv = make_wino<double>(k, layers::ConvAlgorithm::winograd, index % 2 == 0);
            Generator g(300 + index);
            const Tensor<double> x = test::random_tensor(Shape{k.n, k.h, k.w, k.c}, g);
            INFO("case " << index << " " << k.padding << " " << k.activation << " threads " << threads);
            test::check_layer_gradients(conv, x, {.seed = std::uint64_t(index + 1)});
        }
        ++index;
    }
    set_num_threads(saved);
}

TEST_CASE("Conv2D on the Winograd path adds into the weight gradients", "[conv2d][winograd]") {
    for (const WinoCase& k : {kWinoCases[0], kWinoCases[3]}) {
        Conv2D<double> conv = make_wino<double>(k, layers::ConvAlgorithm::winograd);
        Generator g(6);
        test::check_backward_accumulates(conv, test::random_tensor(Shape{k.n, k.h, k.w, k.c}, g));
    }
}

namespace {

// Two Conv2D with the same weights on different paths: forward on x, backward on one random dy (returned), and
// y, dW, db and dx (or its absence when no layer below needs it) agree within tol of each one's largest value.
template <class T>
Tensor<T> check_same_as_plain(Conv2D<T>& plain, Conv2D<T>& fast, const Tensor<T>& x, Generator& g, bool want_dx,
                              double tol) {
    const Tensor<T> y1 = plain.forward(x, true), y2 = fast.forward(x, true);
    Tensor<T> dy(y1.shape());
    for (T& v : dy) v = static_cast<T>(g.uniform(-1, 1));
    plain.set_input_gradient_needed(want_dx);
    fast.set_input_gradient_needed(want_dx);
    plain.zero_grad();
    fast.zero_grad();
    const Tensor<T> dx1 = plain.backward(dy), dx2 = fast.backward(dy);
    auto compare = [&](const Tensor<T>& a, const Tensor<T>& b, const char* what) {
        INFO(what);
        REQUIRE(a.shape() == b.shape());
        double scale = 0, err = 0;
        for (index_t i = 0; i < a.size(); ++i) {
            scale = std::max(scale, std::abs(double(a[i])));
            err = std::max(err, std::abs(double(a[i]) - double(b[i])));
        }
        CHECK(scale > 0);
        CHECK(err <= tol * scale);
    };
    compare(y1, y2, "y");
    compare(plain.kernel().grad, fast.kernel().grad, "dW");
    compare(plain.bias().grad, fast.bias().grad, "db");
    if (want_dx) compare(dx1, dx2, "dx");
    else CHECK(dx2.empty());
    return dy;
}

}  // namespace

// The fast path against the plain one, on the shapes Conv2D sends to Winograd by itself (16+ channels and
// filters): fashion_mnist's second convolution, a flowers-like "same" layer, odd channel counts.
TEMPLATE_TEST_CASE("Conv2D's Winograd and im2col paths give the same outputs and gradients", "[conv2d][winograd]",
                   float, double) {
    using T = TestType;
    const WinoCase cases[] = {{3, 13, 13, 32, 64, "valid", "relu"},
                              {2, 22, 21, 16, 32, "same", "relu"},
                              {2, 9, 12, 19, 17, "same", "linear"},
                              {1, 31, 30, 16, 16, "valid", "relu"}};
    // float: the two paths round differently; errors relative to the largest magnitude stay near 1e-6.
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
    const int saved = num_threads();
    for (const WinoCase& k : cases)
        for (int threads : {1, 2})
            for (bool want_dx : {true, false}) {
                set_num_threads(threads);
                Conv2D<T> plain = make_wino<T>(k, layers::ConvAlgorithm::im2col);
                Conv2D<T> fast = make_wino<T>(k, layers::ConvAlgorithm::winograd);
                Generator g(77);
                Tensor<T> x(Shape{k.n, k.h, k.w, k.c});
                for (T& v : x) v = static_cast<T>(g.uniform(-1, 1));
                INFO(k.h << "x" << k.w << "x" << k.c << " -> " << k.filters << " " << k.padding << " threads "
                          << threads << " dx " << want_dx);
                check_same_as_plain(plain, fast, x, g, want_dx, tol);
            }
    set_num_threads(saved);
}

TEST_CASE("Conv2D refuses the Winograd path where it does not apply, naming the layer", "[conv2d][winograd][errors]") {
    auto forced = [](index_t kernel, index_t stride, const char* activation) {
        Conv2D<float> conv(4, kernel, {.strides = stride, .activation = activation, .name = "conv_w"});
        conv.set_algorithm(layers::ConvAlgorithm::winograd);
        conv.build(Shape{8, 8, 2}, 1);
        conv.forward(Tensor<float>(Shape{1, 8, 8, 2}), false);
    };
    CHECK_THROWS_WITH(forced(5, 1, "relu"), Catch::Contains("conv_w") && Catch::Contains("3x3 kernel"));
    CHECK_THROWS_WITH(forced(3, 2, "relu"), Catch::Contains("strides 1"));
    CHECK_THROWS_WITH(forced(3, 1, "tanh"), Catch::Contains("activation"));
    CHECK_NOTHROW(forced(3, 1, "linear"));
}

// ---- Implicit GEMM (kernels/implicit_conv.hpp): windows read straight from the image, no im2col ----

namespace {

struct ImplicitCase {
    index_t n, h, w, c, filters;
    Size2 kernel, strides;
    const char* padding;
    const char* activation;
};
// RGB and grey first layers (the flowers, cats_dogs and fashion_mnist shapes, smaller), 'same' (a padded copy)
// and 'valid' (read in place, also with columns left over by a stride), strides 1 and 2, non-square windows,
// filter counts off the 16-lane vectors and beyond one 64-column panel, a row shorter than one register tile.
const ImplicitCase kImplicitCases[] = {
    {2, 18, 17, 3, 16, 3, 1, "same", "relu"},   {2, 15, 14, 3, 32, 3, 1, "valid", "relu"},
    {3, 28, 28, 1, 32, 3, 1, "valid", "relu"},  {2, 13, 11, 3, 16, 3, 2, "same", "linear"},
    {2, 12, 13, 3, 20, 3, 2, "valid", "relu"},  {1, 9, 11, 5, 70, {5, 3}, {1, 2}, "same", "relu"},
    {2, 6, 5, 2, 17, {2, 3}, 1, "valid", "linear"}, {1, 4, 40, 3, 16, 3, 1, "same", "relu"},
};

template <class T>
Conv2D<T> make_implicit(const ImplicitCase& k, layers::ConvAlgorithm a) {
    Conv2D<T> conv(k.filters, k.kernel,
                   {.strides = k.strides, .padding = k.padding, .activation = k.activation,
                    .bias_initializer = "glorot_uniform"});
    conv.set_algorithm(a);
    conv.build(Shape{k.h, k.w, k.c}, 23);
    return conv;
}

}  // namespace

// The path's indexing (windows, padding, segments, backward) in double, where its products are plain loops.
TEST_CASE("Conv2D on the implicit-GEMM path matches central differences and adds into the weight gradients",
          "[conv2d][gradcheck][implicit]") {
    const int saved = num_threads();
    int index = 0, checked = 0;
    for (const ImplicitCase& k : kImplicitCases) {
        if (k.filters > 32 || k.h * k.w > 300) {  // keep the double checks small
            ++index;
            continue;
        }
        ++checked;
        for (int threads : {1, 2}) {
            set_num_threads(threads);
            Conv2D<double> conv = make_implicit<double>(k, layers::ConvAlgorithm::implicit_gemm);
            Generator g(400 + index);
            const Tensor<double> x = test::random_tensor(Shape{k.n, k.h, k.w, k.c}, g);
            INFO("case " << index << " " << k.padding << " " << k.activation << " threads " << threads);
            test::check_layer_gradients(conv, x, {.seed = std::uint64_t(index + 1)});
            test::check_backward_accumulates(conv, x);
        }
        ++index;
    }
    CHECK(checked >= 5);
    set_num_threads(saved);
}

// The fast path against im2col (itself checked against central differences in double and a plain loop above).
// With the packed kernel both sum a window in the same order, so they differ only where im2col's product goes
// through Eigen; without it the implicit path's products are plain loops.
TEST_CASE("Conv2D's implicit-GEMM and im2col paths give the same outputs and gradients", "[conv2d][implicit]") {
    if (!kernels::implicit_conv::fast)
        WARN("this build has no packed AVX-512 kernel: the implicit GEMM's products are plain loops here; "
             "test_gemm_native checks the fast ones on an AVX-512 machine");
    const int saved = num_threads();
    int index = 0;
    for (const ImplicitCase& k : kImplicitCases) {
        for (int threads : {1, 2})
            for (bool want_dx : {true, false}) {
                set_num_threads(threads);
                Conv2D<float> plain = make_implicit<float>(k, layers::ConvAlgorithm::im2col);
                Conv2D<float> fast = make_implicit<float>(k, layers::ConvAlgorithm::implicit_gemm);
                Generator g(500 + index);
                Tensor<float> x(Shape{k.n, k.h, k.w, k.c});
                for (float& v : x) v = static_cast<float>(g.uniform(-1, 1));
                INFO("case " << index << ": " << k.h << "x" << k.w << "x" << k.c << " -> " << k.filters << " "
                             << k.padding << " threads " << threads << " dx " << want_dx);
                const Tensor<float> dy = check_same_as_plain(plain, fast, x, g, want_dx, 1e-5);
                // backward adds into the gradients: a second pass on grads pre-filled with 0.5 gives 0.5 + dW
                const Tensor<float> dw = fast.kernel().grad;
                fast.kernel().grad.fill(0.5f);
                fast.forward(x, true);
                fast.backward(dy);
                double worst = 0;
                for (index_t i = 0; i < dw.size(); ++i)
                    worst = std::max(worst, std::abs(double(fast.kernel().grad[i]) - (0.5 + double(dw[i]))));
                CHECK(worst < 1e-5);
            }
        ++index;
    }
    set_num_threads(saved);
}

TEST_CASE("Conv2D takes the implicit GEMM by itself only for few channels, and refuses it where it cannot apply",
          "[conv2d][implicit][errors]") {
    auto run = [](Size2 dilation, const char* activation) {
        Conv2D<float> conv(16, 3, {.dilation_rate = dilation, .activation = activation, .name = "conv_i"});
        conv.set_algorithm(layers::ConvAlgorithm::implicit_gemm);
        conv.build(Shape{12, 12, 3}, 1);
        conv.forward(Tensor<float>(Shape{1, 12, 12, 3}), false);
    };
    CHECK_NOTHROW(run(1, "relu"));
    CHECK_NOTHROW(run(1, "linear"));
    CHECK_THROWS_WITH(run(2, "relu"), Catch::Contains("conv_i") && Catch::Contains("dilation_rate"));
    CHECK_THROWS_WITH(run(1, "tanh"), Catch::Contains("conv_i") && Catch::Contains("activation"));
    const kernels::ConvGeometry rgb = kernels::conv_geometry(1, 12, 12, 3, 3, 1, 1, kernels::Padding::same, "t");
    const kernels::ConvGeometry deep = kernels::conv_geometry(1, 12, 12, 16, 3, 1, 1, kernels::Padding::same, "t");
    CHECK(kernels::implicit_conv::wins(rgb, 16) == kernels::implicit_conv::fast);
    CHECK_FALSE(kernels::implicit_conv::wins(rgb, 8));
    CHECK_FALSE(kernels::implicit_conv::wins(deep, 16));
}

// ---- Conv2D + MaxPooling2D(2x2) fused (Conv2D::forward_max_pool2x2), against the two layers one after the other ----

TEMPLATE_TEST_CASE("Conv2D fused with 2x2 max pooling gives the two layers' outputs and gradients",
                   "[conv2d][pooling][fused]", float, double) {
    using T = TestType;
    struct FusedCase {
        index_t n, h, w, c, filters;
        Size2 strides;
        const char* padding;
        const char* activation;
        layers::ConvAlgorithm path;
    };
    const auto wino = layers::ConvAlgorithm::winograd, implicit = layers::ConvAlgorithm::implicit_gemm;
    // Even and odd conv outputs (an odd last row / column belongs to no window), both paths, ReLU (code 4) and
    // linear, a stride-2 implicit layer, a window count that is not a whole number of Winograd chunks.
    const FusedCase cases[] = {
        {2, 12, 12, 16, 32, 1, "same", "relu", wino},     {2, 13, 11, 17, 16, 1, "valid", "relu", wino},
        {1, 30, 27, 16, 20, 1, "same", "linear", wino},   {2, 18, 17, 3, 16, 1, "same", "relu", implicit},
        {2, 15, 16, 1, 32, 1, "valid", "relu", implicit}, {2, 13, 14, 3, 16, 2, "same", "linear", implicit},
    };
    const int saved = num_threads();
    int index = 0;
    for (const FusedCase& k : cases) {
        for (int threads : {1, 2})
            for (bool want_dx : {true, false}) {
                set_num_threads(threads);
                auto make = [&] {
                    Conv2D<T> conv(k.filters, 3,
                                   {.strides = k.strides, .padding = k.padding, .activation = k.activation,
                                    .bias_initializer = "glorot_uniform"});
                    conv.set_algorithm(k.path);
                    conv.build(Shape{k.h, k.w, k.c}, 31);
                    conv.set_input_gradient_needed(want_dx);
                    return conv;
                };
                Conv2D<T> apart = make(), fused = make();
                layers::MaxPooling2D<T> pool;
                pool.build(apart.output_shape(), 1);
                REQUIRE(fused.can_fuse_max_pool2x2());
                Generator g(600 + index);
                Tensor<T> x(Shape{k.n, k.h, k.w, k.c});
                for (T& v : x) v = static_cast<T>(g.uniform(-1, 1));
                x[0] = x[1];  // a tie somewhere
                const Tensor<T> y1 = pool.forward(apart.forward(x, true), true);
                const Tensor<T> y2 = fused.forward_max_pool2x2(x, true);
                Tensor<T> dy(y1.shape());
                for (T& v : dy) v = static_cast<T>(g.uniform(-1, 1));
                apart.zero_grad();
                fused.zero_grad();
                const Tensor<T> dx1 = apart.backward(pool.backward(dy));
                const Tensor<T> dx2 = fused.backward_max_pool2x2(dy);
                INFO("case " << index << " threads " << threads << " dx " << want_dx);
                auto same = [](const Tensor<T>& a, const Tensor<T>& b, const char* what) {
                    INFO(what);
                    REQUIRE(a.shape() == b.shape());
                    double worst = 0, scale = 0;
                    for (index_t i = 0; i < a.size(); ++i) {
                        worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
                        scale = std::max(scale, std::abs(double(a[i])));
                    }
                    CHECK(scale > 0);
                    CHECK(worst == 0);  // the same operations in the same order: bit for bit
                };
                same(y1, y2, "pooled output");
                same(apart.kernel().grad, fused.kernel().grad, "dW");
                same(apart.bias().grad, fused.bias().grad, "db");
                if (want_dx) same(dx1, dx2, "dx");
                else CHECK(dx2.empty());
            }
        ++index;
    }
    set_num_threads(saved);
}

TEST_CASE("Conv2D refuses a fused backward without a fused forward and the reverse, naming the layer",
          "[conv2d][pooling][fused][errors]") {
    Conv2D<float> conv(16, 3, {.padding = "same", .activation = "relu", .name = "conv_f"});
    conv.set_algorithm(layers::ConvAlgorithm::winograd);
    conv.build(Shape{8, 8, 16}, 1);
    const Tensor<float> x(Shape{1, 8, 8, 16});
    conv.forward(x, true);
    CHECK_THROWS_WITH(conv.backward_max_pool2x2(Tensor<float>(Shape{1, 4, 4, 16})), Catch::Contains("conv_f"));
    conv.forward_max_pool2x2(x, true);
    CHECK_THROWS_WITH(conv.backward(Tensor<float>(Shape{1, 8, 8, 16})), Catch::Contains("conv_f"));
    CHECK_THROWS_WITH(conv.backward_max_pool2x2(Tensor<float>(Shape{1, 4, 5, 16})), Catch::Contains("shape"));
    CHECK_NOTHROW(conv.backward_max_pool2x2(Tensor<float>(Shape{1, 4, 4, 16})));
    Conv2D<float> plain(16, 3, {.activation = "tanh", .name = "conv_t"});
    plain.build(Shape{8, 8, 16}, 1);
    CHECK_FALSE(plain.can_fuse_max_pool2x2());
    CHECK_THROWS_WITH(plain.forward_max_pool2x2(x, true), Catch::Contains("conv_t"));
}
