// The benchmark models in tiny-dnn (Debian's tiny-dnn 1.0.0a3), timed like lumen_bench and torch_models.py.
// Built and run by bench/compare, never by the lumen build. Prints one JSON object per line.
// tiny-dnn has no 'same' max pooling and trains through its own fit() loop (gradients per sample), so
// images/s here include its whole training loop for `steps` batches.
#include <tiny_dnn/tiny_dnn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace tiny_dnn;
using namespace tiny_dnn::activation;

namespace {

struct Spec {
    std::string name;
    int h, w, c, batch, classes;
};

// Builds the model; each matches the Keras definition in bench/README.md (valid convs where Keras uses valid,
// padding::same where Keras uses same; Rescaling is folded into the data).
network<sequential> build(const std::string& name) {
    network<sequential> net;
    using conv_relu = convolutional_layer<relu>;
    using pool = max_pooling_layer<identity>;
    using fc_relu = fully_connected_layer<relu>;
    using fc_sigmoid = fully_connected_layer<sigmoid>;
    using fc_softmax = fully_connected_layer<softmax>;
    if (name == "flowers") {
        net << conv_relu(180, 180, 3, 3, 16, padding::same) << pool(180, 180, 16, 2)
            << conv_relu(90, 90, 3, 16, 32, padding::same) << pool(90, 90, 32, 2)
            << conv_relu(45, 45, 3, 32, 64, padding::same) << pool(45, 45, 64, 2)
            << dropout_layer(22 * 22 * 64, 0.2f) << fc_relu(22 * 22 * 64, 128) << fc_softmax(128, 5);
    } else if (name == "cats_dogs") {
        net << conv_relu(256, 256, 3, 3, 32) << pool(254, 254, 32, 2) << fc_relu(127 * 127 * 32, 128)
            << fc_sigmoid(128, 1);
    } else if (name == "caltech") {
        net << conv_relu(150, 150, 3, 3, 16) << pool(148, 148, 16, 2) << conv_relu(74, 74, 3, 16, 32)
            << pool(72, 72, 32, 2) << conv_relu(36, 36, 3, 32, 64) << pool(34, 34, 64, 2)
            << fc_relu(17 * 17 * 64, 128) << fc_sigmoid(128, 1);
    } else if (name == "car_bus") {
        net << conv_relu(64, 64, 3, 3, 32) << pool(62, 62, 32, 2) << conv_relu(31, 31, 3, 32, 32)
            << pool(29, 29, 32, 2) << fc_relu(14 * 14 * 32, 128) << fc_sigmoid(128, 1);
    } else {  // fashion_mnist
        net << conv_relu(28, 28, 3, 1, 32) << pool(26, 26, 32, 2) << conv_relu(13, 13, 3, 32, 64)
            << pool(11, 11, 64, 2) << dropout_layer(5 * 5 * 64, 0.5f) << fc_softmax(5 * 5 * 64, 10);
    }
    return net;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
    const int steps = argc > 2 ? std::atoi(argv[2]) : 2;
    std::vector<Spec> specs = {{"flowers", 180, 180, 3, 32, 5},
                               {"cats_dogs", 256, 256, 3, 32, 1},
                               {"caltech", 150, 150, 3, 32, 1},
                               {"car_bus", 64, 64, 3, 32, 1},
                               {"fashion_mnist", 28, 28, 1, 128, 10}};
    for (const Spec& s : specs) {
        if (argc > 3 && s.name != argv[3]) continue;
        network<sequential> net = build(s.name);
        const std::size_t n = static_cast<std::size_t>(s.batch) * static_cast<std::size_t>(steps);
        std::vector<vec_t> x(n, vec_t(static_cast<std::size_t>(s.h * s.w * s.c)));
        std::vector<vec_t> y(n, vec_t(static_cast<std::size_t>(s.classes), 0.0f));
        for (std::size_t i = 0; i < n; ++i) {
            for (auto& v : x[i]) v = static_cast<float_t>(std::rand() % 256) / 255.0f;
            y[i][i % static_cast<std::size_t>(s.classes)] = 1.0f;
        }
        adam opt;
        auto t0 = std::chrono::steady_clock::now();
        if (s.classes == 1)
            net.fit<mse>(opt, x, y, static_cast<std::size_t>(s.batch), 1, [] {}, [] {}, false, threads);
        else
            net.fit<cross_entropy_multiclass>(opt, x, y, static_cast<std::size_t>(s.batch), 1, [] {}, [] {}, false,
                                              threads);
        const double train_ips = static_cast<double>(n) / seconds_since(t0);
        net.set_netphase(net_phase::test);
        t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < n; ++i) net.predict(x[i]);
        const double predict_ips = static_cast<double>(n) / seconds_since(t0);
        std::printf(
            "{\"framework\": \"tiny-dnn\", \"model\": \"%s\", \"kind\": \"train_step\", \"threads\": %d, \"batch\": %d, "
            "\"images_per_second\": %.3f}\n",
            s.name.c_str(), threads, s.batch, train_ips);
        std::printf(
            "{\"framework\": \"tiny-dnn\", \"model\": \"%s\", \"kind\": \"predict\", \"threads\": %d, \"batch\": %d, "
            "\"images_per_second\": %.3f}\n",
            s.name.c_str(), threads, s.batch, predict_ips);
        std::fflush(stdout);
    }
}
