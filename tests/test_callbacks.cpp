// Callbacks (spec §8) and the progress bar text (spec §7.3): EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
// LearningRateScheduler, CSVLogger, LambdaCallback, TerminateOnNaN; verbose 1 (non-terminal and redrawn) and 2.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/model/saving.hpp"
#include "lumen/model/callbacks.hpp"
#include "lumen/optimizers/SGD.hpp"

using namespace lumen;
namespace fs = std::filesystem;

namespace {

std::pair<Tensor<float>, Tensor<float>> data12() {
    Generator g(5);
    Tensor<float> x(Shape{12, 3}), y(Shape{12, 1});
    for (index_t i = 0; i < 12; ++i) {
        y[i] = float(i % 2);
        for (index_t j = 0; j < 3; ++j) x.at(i, j) = float(g.normal(y[i] ? 1 : -1, 1));
    }
    return {x, y};
}

Sequential<float> tiny(double lr = 0.1) {
    Sequential<float> m({layers::Input<float>({3}), layers::Dense<float>(1, {.activation = "sigmoid"})}, {.seed = 4});
    m.compile(optimizers::SGD<float>({.learning_rate = lr}), "binary_crossentropy", {"accuracy"});
    return m;
}

// A callback that overwrites a log key with a scripted value per epoch (runs before the ones under test).
callbacks::CallbackPtr<float> script(const std::string& key, std::vector<double> values) {
    callbacks::LambdaCallbackOptions f;
    f.on_epoch_end = [key, values](int epoch, model::Logs& logs) { logs.set(key, values.at(std::size_t(epoch))); };
    return std::make_shared<callbacks::LambdaCallback<float>>(f);
}

// A clock that advances 0.5 s per reading.
std::function<double()> ticking() {
    auto t = std::make_shared<double>(0);
    return [t] { return *t += 0.5; };
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("progress bar, verbose 1 without a terminal: one clean line per epoch", "[progbar]") {
    auto [x, y] = data12();
    Sequential<float> m = tiny();
    std::ostringstream out;
    const auto h = m.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 1, .out = &out, .clock = ticking()});
    // per epoch: the bar is created (t0), 3 batch updates (t0+0.5, +1, +1.5), the final update (+2):
    // elapsed 2 s; per step (2 - 0.5) / 2 = 750 ms (the first step is excluded)
    std::string want;
    for (int e = 0; e < 2; ++e)
        want += "Epoch " + std::to_string(e + 1) + "/2\n3/3 [==============================] - 2s 750ms/step - loss: " +
                model::format_metric_value(h["loss"][std::size_t(e)]) +
                " - accuracy: " + model::format_metric_value(h["accuracy"][std::size_t(e)]) + "\n";
    CHECK(out.str() == want);
    CHECK(out.str().find('\r') == std::string::npos);
}

TEST_CASE("progress bar, verbose 2: one line per epoch with epoch and step times", "[progbar]") {
    auto [x, y] = data12();
    Sequential<float> m = tiny();
    std::ostringstream out;
    const auto h = m.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 2, .validation_data = std::make_pair(x, y),
                                .out = &out, .clock = ticking()});
    std::string want;
    for (std::size_t e = 0; e < 2; ++e)
        want += "Epoch " + std::to_string(e + 1) + "/2\n3/3 - 2s - loss: " + model::format_metric_value(h["loss"][e]) +
                " - accuracy: " + model::format_metric_value(h["accuracy"][e]) +
                " - val_loss: " + model::format_metric_value(h["val_loss"][e]) +
                " - val_accuracy: " + model::format_metric_value(h["val_accuracy"][e]) + " - 2s/epoch - 667ms/step\n";
    CHECK(out.str() == want);
}

TEST_CASE("progress bar, redrawn on a terminal: bar, ETA and the final line", "[progbar]") {
    std::ostringstream out;
    model::Progbar bar(92, {.interval = 0, .out = &out, .dynamic = true, .clock = ticking()});
    bar.update(1, {{"loss", 1.5}});
    CHECK(out.str() == "\r 1/92 [..............................] - ETA: 45s - loss: 1.5000");
    out.str("");
    bar.update(46, {{"loss", 0.0001234}});
    // clock readings: 0.5 (start), 1.0 (step 1), 1.5 (step 46): (1.5 - 1.0) / 45 s per step, ETA 46 * that = 0s
    const std::string first = " 1/92 [..............................] - ETA: 45s - loss: 1.5000";
    const std::string line46 = "46/92 [==============>...............] - ETA: 0s - loss: 1.2340e-04";
    CHECK(out.str() == std::string(first.size(), '\b') + "\r" + line46);
    out.str("");
    bar.update(92, {{"loss", 0.5}, {"val_loss", 0.25}}, true);
    // elapsed 2.0 - 0.5 = 1.5 s -> "2s"; (2.0 - 1.0) / 91 s per step -> 11ms/step
    CHECK(out.str() == std::string(line46.size(), '\b') + "\r" +
                           "92/92 [==============================] - 2s 11ms/step - loss: 0.5000 - val_loss: 0.2500\n");
    CHECK(model::format_eta(3725) == "1:02:05");
    CHECK(model::format_eta(75) == "1:15");
    CHECK(model::format_eta(9.7) == "9s");
    CHECK(model::format_time_per_unit(0.13, "step") == "130ms/step");
    CHECK(model::format_time_per_unit(0.00008, "step") == "80us/step");
    CHECK(model::format_time_per_unit(12.2, "epoch") == "12s/epoch");
    CHECK(model::format_metric_value(-0.5) == "-0.5000");
    CHECK(model::format_metric_value(0.001) == "1.0000e-03");
}

TEST_CASE("format_python_float prints Python's repr", "[callbacks]") {
    CHECK(model::format_python_float(1.0) == "1.0");
    CHECK(model::format_python_float(0.5) == "0.5");
    CHECK(model::format_python_float(0.0001) == "0.0001");
    CHECK(model::format_python_float(1e-5) == "1e-05");
    CHECK(model::format_python_float(double(0.001f) * 0.1) == "0.00010000000474974513");
    CHECK(model::format_python_float(double(0.6931472f)) == "0.6931471824645996");
    CHECK(model::format_python_float(1e16) == "1e+16");
    CHECK(model::format_python_float(123456.0) == "123456.0");
}

TEST_CASE("EarlyStopping stops after patience and restores the best weights", "[callbacks]") {
    auto [x, y] = data12();
    Sequential<float> m = tiny();
    std::vector<Tensor<float>> at_best;
    callbacks::LambdaCallbackOptions snap;
    snap.on_epoch_end = [&](int epoch, model::Logs&) { if (epoch == 1) at_best = m.get_weights(); };
    auto es = std::make_shared<callbacks::EarlyStopping<float>>(
        callbacks::EarlyStoppingOptions{.monitor = "val_loss", .patience = 2, .verbose = 1, .restore_best_weights = true});
    std::ostringstream out;
    const auto h = m.fit(x, y, {.batch_size = 4, .epochs = 10, .verbose = 0,
                                .callbacks = {script("val_loss", {1.0, 0.9, 0.95, 0.97, 0.5, 0.4}),
                                              std::make_shared<callbacks::LambdaCallback<float>>(snap), es},
                                .out = &out});
    CHECK(h.epoch() == std::vector<int>{0, 1, 2, 3});
    CHECK(es->stopped_epoch() == 3);
    CHECK(es->best_epoch() == 1);
    CHECK(out.str() == "Restoring model weights from the end of the best epoch: 2.\nEpoch 4: early stopping\n");
    const auto now = m.get_weights();
    for (std::size_t k = 0; k < now.size(); ++k) CHECK(std::equal(now[k].begin(), now[k].end(), at_best[k].begin()));

    // min_delta: improvements smaller than it do not count; 'auto' maximises accuracy
    auto es2 = std::make_shared<callbacks::EarlyStopping<float>>(
        callbacks::EarlyStoppingOptions{.monitor = "val_accuracy", .min_delta = 0.1, .patience = 1});
    const auto h2 = m.fit(x, y, {.batch_size = 4, .epochs = 10, .verbose = 0,
                                 .callbacks = {script("val_accuracy", {0.5, 0.55, 0.58, 0.9}), es2}});
    CHECK(h2.epoch().size() == 2);
}

TEST_CASE("ModelCheckpoint formats the path and saves only improvements with save_best_only", "[callbacks]") {
    const fs::path dir = fs::temp_directory_path() / ("lumen_test_ckpt_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto [x, y] = data12();
    Sequential<float> m = tiny();
    auto ck = std::make_shared<callbacks::ModelCheckpoint<float>>(
        (dir / "w.{epoch:02d}-{val_loss:.2f}.lumen").string(),
        callbacks::ModelCheckpointOptions{.verbose = 1, .save_best_only = true});
    std::ostringstream out;
    m.fit(x, y, {.batch_size = 4, .epochs = 3, .verbose = 0,
                 .callbacks = {script("val_loss", {0.8, 0.9, 0.7}), ck}, .out = &out});
    CHECK(fs::exists(dir / "w.01-0.80.lumen"));
    CHECK_FALSE(fs::exists(dir / "w.02-0.90.lumen"));
    CHECK(fs::exists(dir / "w.03-0.70.lumen"));
    const std::string p1 = (dir / "w.01-0.80.lumen").string(), p3 = (dir / "w.03-0.70.lumen").string();
    CHECK(out.str() == "\nEpoch 1: val_loss improved from inf to 0.80000, saving model to " + p1 +
                           "\n\nEpoch 2: val_loss did not improve from 0.80000\n"
                           "\nEpoch 3: val_loss improved from 0.80000 to 0.70000, saving model to " + p3 + "\n");
    CHECK(load_model<float>(p3).count_params() == 4);
    CHECK(callbacks::format_checkpoint_path("m{{x}}.{epoch}", 7, {}) == "m{x}.7");
    CHECK_THROWS_WITH(callbacks::format_checkpoint_path("{val_acc:.2f}", 1, {{"loss", 1}}), Catch::Contains("not in the logs"));
    fs::remove_all(dir);
}

TEST_CASE("ReduceLROnPlateau lowers the learning rate after patience and writes lr", "[callbacks]") {
    auto [x, y] = data12();
    Sequential<float> m = tiny(0.1);
    auto rl = std::make_shared<callbacks::ReduceLROnPlateau<float>>(
        callbacks::ReduceLROnPlateauOptions{.monitor = "val_loss", .factor = 0.5, .patience = 2, .verbose = 1, .cooldown = 1});
    std::ostringstream out;
    const auto h = m.fit(x, y, {.batch_size = 4, .epochs = 6, .verbose = 0,
                                .callbacks = {script("val_loss", {1, 1, 1, 1, 1, 1}), rl}, .out = &out});
    // e0 best; e1 wait 1; e2 wait 2 -> 0.05, cooldown 1; e3 cooldown ends (wait reset, then wait 1, as Keras);
    // e4 wait 2 -> 0.025
    const auto& lr = h["lr"];
    REQUIRE(lr.size() == 6);
    CHECK(lr[0] == Approx(0.1));
    CHECK(lr[2] == Approx(0.1));  // logged before the reduction, as Keras
    CHECK(lr[3] == Approx(0.05));
    CHECK(lr[4] == Approx(0.05));
    CHECK(lr[5] == Approx(0.025));
    CHECK(m.learning_rate() == Approx(0.025));
    CHECK(out.str() == "\nEpoch 3: ReduceLROnPlateau reducing learning rate to " +
                           model::format_python_float(double(0.1f) * 0.5) + ".\n\nEpoch 5: ReduceLROnPlateau reducing learning rate to " +
                           model::format_python_float(double(float(double(0.1f) * 0.5)) * 0.5) + ".\n");
    CHECK(h.keys() == std::vector<std::string>{"loss", "accuracy", "val_loss", "lr"});
    CHECK_THROWS_WITH(callbacks::ReduceLROnPlateau<float>({.factor = 1.0}), Catch::Contains("factor >= 1.0"));
}

TEST_CASE("LearningRateScheduler sets the rate at each epoch begin", "[callbacks]") {
    auto [x, y] = data12();
    Sequential<float> m = tiny(0.1);
    auto sched = std::make_shared<callbacks::LearningRateScheduler<float>>(
        [](int epoch, double lr) { return epoch == 0 ? lr : lr * 0.5; }, 1);
    std::ostringstream out;
    const auto h = m.fit(x, y, {.batch_size = 4, .epochs = 3, .verbose = 0, .callbacks = {sched}, .out = &out});
    CHECK(h["lr"][0] == Approx(0.1));
    CHECK(h["lr"][1] == Approx(0.05));
    CHECK(h["lr"][2] == Approx(0.025));
    CHECK_THAT(out.str(), Catch::StartsWith("\nEpoch 1: LearningRateScheduler setting learning rate to 0.10000000149011612.\n"));
}

TEST_CASE("CSVLogger writes sorted keys, val_ columns and Python floats with CRLF", "[callbacks]") {
    const fs::path file = fs::temp_directory_path() / ("lumen_test_csv_" + std::to_string(::getpid()) + ".csv");
    auto [x, y] = data12();
    Sequential<float> m = tiny();
    auto csv = std::make_shared<callbacks::CSVLogger<float>>(file.string());
    const auto h = m.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .callbacks = {csv}});
    std::string want = "epoch,accuracy,loss,val_accuracy,val_loss\r\n";
    for (int e = 0; e < 2; ++e)
        want += std::to_string(e) + "," + model::format_python_float(h["accuracy"][std::size_t(e)]) + "," +
                model::format_python_float(h["loss"][std::size_t(e)]) + ",NA,NA\r\n";
    CHECK(read_text(file) == want);
    // append: no second header
    auto csv2 = std::make_shared<callbacks::CSVLogger<float>>(file.string(), ",", true);
    m.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .callbacks = {csv2}});
    const std::string all = read_text(file);
    CHECK(all.rfind("epoch,", 0) == 0);
    CHECK(all.find("epoch,", 1) == std::string::npos);
    fs::remove(file);
}

TEST_CASE("LambdaCallback hooks run in Keras' order with running logs", "[callbacks]") {
    auto [x, y] = data12();
    Sequential<float> m = tiny();
    std::vector<std::string> calls;
    callbacks::LambdaCallbackOptions f;
    f.on_train_begin = [&](model::Logs&) { calls.push_back("train_begin"); };
    f.on_epoch_begin = [&](int e, model::Logs&) { calls.push_back("epoch_begin " + std::to_string(e)); };
    f.on_batch_begin = [&](index_t s, model::Logs&) { calls.push_back("batch_begin " + std::to_string(s)); };
    f.on_batch_end = [&](index_t s, model::Logs& logs) {
        calls.push_back("batch_end " + std::to_string(s) + (logs.contains("loss") && logs.contains("accuracy") ? " ok" : ""));
    };
    f.on_epoch_end = [&](int e, model::Logs& logs) { calls.push_back("epoch_end " + std::to_string(e) + " " + std::to_string(logs.items().size())); };
    f.on_train_end = [&](model::Logs&) { calls.push_back("train_end"); };
    m.fit(x, y, {.batch_size = 6, .epochs = 2, .verbose = 0, .callbacks = {std::make_shared<callbacks::LambdaCallback<float>>(f)}});
    CHECK(calls == std::vector<std::string>{"train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0 ok", "batch_begin 1",
                                            "batch_end 1 ok", "epoch_end 0 2", "epoch_begin 1", "batch_begin 0", "batch_end 0 ok",
                                            "batch_begin 1", "batch_end 1 ok", "epoch_end 1 2", "train_end"});
}
