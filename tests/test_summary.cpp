// summary(): the exact tf.keras 2.13–2.15 text (spec §6.1, §6.2), byte for byte, for the flowers tutorial model
// and for a model with BatchNormalization and a frozen layer (non-trainable counts).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "lumen/layers/BatchNormalization.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/model/summary.hpp"
#include "support/golden.hpp"

using namespace lumen;

namespace {

// The block of spec §6.2, copied with its trailing spaces (every layer line is exactly 65 characters).
const std::string kFlowersSummary =
        "Model: \"sequential\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #   \n"
        "=================================================================\n"
        " rescaling (Rescaling)       (None, 180, 180, 3)       0         \n"
        "                                                                 \n"
        " conv2d (Conv2D)             (None, 180, 180, 16)      448       \n"
        "                                                                 \n"
        " max_pooling2d (MaxPooling2  (None, 90, 90, 16)        0         \n"
        " D)                                                              \n"
        "                                                                 \n"
        " conv2d_1 (Conv2D)           (None, 90, 90, 32)        4640      \n"
        "                                                                 \n"
        " max_pooling2d_1 (MaxPoolin  (None, 45, 45, 32)        0         \n"
        " g2D)                                                            \n"
        "                                                                 \n"
        " conv2d_2 (Conv2D)           (None, 45, 45, 64)        18496     \n"
        "                                                                 \n"
        " max_pooling2d_2 (MaxPoolin  (None, 22, 22, 64)        0         \n"
        " g2D)                                                            \n"
        "                                                                 \n"
        " dropout (Dropout)           (None, 22, 22, 64)        0         \n"
        "                                                                 \n"
        " flatten (Flatten)           (None, 30976)             0         \n"
        "                                                                 \n"
        " dense (Dense)               (None, 128)               3965056   \n"
        "                                                                 \n"
        " dense_1 (Dense)             (None, 5)                 645       \n"
        "                                                                 \n"
        "=================================================================\n"
        "Total params: 3989285 (15.22 MB)\n"
        "Trainable params: 3989285 (15.22 MB)\n"
        "Non-trainable params: 0 (0.00 Byte)\n"
        "_________________________________________________________________\n";

Sequential<float> flowers_model() {
    return Sequential<float>{
        layers::Input<float>({180, 180, 3}),
        layers::Rescaling<float>(1.0 / 255),
        layers::Conv2D<float>(16, 3, {.padding = "same", .activation = "relu"}),
        layers::MaxPooling2D<float>(),
        layers::Conv2D<float>(32, 3, {.padding = "same", .activation = "relu"}),
        layers::MaxPooling2D<float>(),
        layers::Conv2D<float>(64, 3, {.padding = "same", .activation = "relu"}),
        layers::MaxPooling2D<float>(),
        layers::Dropout<float>(0.2),
        layers::Flatten<float>(),
        layers::Dense<float>(128, {.activation = "relu"}),
        layers::Dense<float>(5)};
}

}  // namespace

TEST_CASE("summary of the flowers model matches Keras 2.13-2.15 byte for byte", "[summary]") {
    Sequential<float> model = flowers_model();
    CHECK(model.count_params() == 3989285);
    std::ostringstream printed;
    const std::string text = model.summary(&printed);
    CHECK(printed.str() == text);
    CHECK(text == kFlowersSummary);
    // and against the spec file itself, when it is there
    const auto spec = test::shared_dir() / "spec" / "keras-reference.md";
    if (!std::filesystem::exists(spec)) {
        WARN("SKIPPED: " << spec.string() << " is missing; compared with the embedded copy only");
        return;
    }
    std::ifstream in(spec);
    std::string line, block;
    bool inside = false;
    while (std::getline(in, line)) {
        if (!inside && line == "Model: \"sequential\"") inside = true;
        if (inside && line.rfind("```", 0) == 0) break;
        if (inside) block += line + "\n";
    }
    CHECK(text == block);
    // every layer line is 65 characters
    std::istringstream lines(text);
    int n = 0;
    while (std::getline(lines, line))
        if (++n > 1 && line.rfind("Total", 0) != 0 && line.rfind("Trainable", 0) != 0 && line.rfind("Non-", 0) != 0)
            CHECK(line.size() == 65);
}

TEST_CASE("summary counts BatchNormalization moving stats and frozen layers as non-trainable", "[summary]") {
    Sequential<float> model{layers::Input<float>({8, 8, 3}),
                            layers::Conv2D<float>(4, 3, {.padding = "same"}),
                            layers::BatchNormalization<float>(),
                            layers::Flatten<float>(),
                            layers::Dense<float>(2)};
    model.get_layer("dense")->set_trainable(false);
    auto row = [](std::string s) { return s + std::string(65 - s.size(), ' ') + "\n"; };
    const std::string blank = std::string(65, ' ') + "\n";
    const std::string want =
        "Model: \"sequential\"\n" + std::string(65, '_') + "\n" +
        row(" Layer (type)                Output Shape              Param #") + std::string(65, '=') + "\n" +
        row(" conv2d (Conv2D)             (None, 8, 8, 4)           112") + blank +
        row(" batch_normalization (Batch  (None, 8, 8, 4)           16") +
        row(" Normalization)") + blank +
        row(" flatten (Flatten)           (None, 256)               0") + blank +
        row(" dense (Dense)               (None, 2)                 514") + blank + std::string(65, '=') + "\n" +
        "Total params: 642 (2.51 KB)\n"
        "Trainable params: 120 (480.00 Byte)\n"
        "Non-trainable params: 522 (2.04 KB)\n" +
        std::string(65, '_') + "\n";
    CHECK(model.summary(nullptr) == want);
}

TEST_CASE("summary rows wrap long fields and cut after '),' as Keras does", "[summary]") {
    std::string out;
    model::detail::summary_row(out, {"a_very_long_layer_name_that_wraps (Conv2D)", "[(None, 10, 10), (None, 20, 20)]", "12345678901"});
    // column 1 is cut just after the first "),", not at 23 characters
    const std::string want = " a_very_long_layer_name_tha  [(None, 10, 10),          1234567890\n"
                             " t_wraps (Conv2D)             (None, 20, 20)]          1         \n";
    CHECK(out == want);
    CHECK(model::readable_memory_size(0) == "0.00 Byte");
    CHECK(model::readable_memory_size(1023) == "1023.00 Byte");
    CHECK(model::readable_memory_size(1024) == "1.00 KB");
    CHECK(model::readable_memory_size(15957140) == "15.22 MB");
}
