// lumen::Sequential<T> — Keras' Sequential model: a stack of layers with compile / fit / evaluate / predict /
// summary / save (docs/training.md walks one batch through it).
//
//   lumen::Sequential model{
//       layers::Input({180, 180, 3}),
//       layers::Rescaling(1.0 / 255),
//       layers::Conv2D(16, 3, {.padding = "same", .activation = "relu"}),
//       ...
//       layers::Dense(5)};
//   model.compile("adam", losses::SparseCategoricalCrossentropy({.from_logits = true}), {"accuracy"});
//   auto history = model.fit(x, y, {.batch_size = 32, .epochs = 10, .validation_split = 0.2});
//
// One training step (train_on_batch): zero every gradient; forward each layer with training = true; loss and
// d loss / d y_pred (already divided by the batch size); backward each layer in reverse (each ADDS its weight
// gradients); add the kernel_regularizer penalties and their gradients; if the loss and every gradient are
// finite, the optimizer steps over the trainable weights of trainable layers. Names: Keras' automatic names
// (conv2d, conv2d_1, ...), counted per model (Keras counts per session: the same names for a fresh session).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/core/random.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/data/dataset.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/layer.hpp"
#include "lumen/losses/get.hpp"
#include "lumen/losses/loss.hpp"
#include "lumen/losses/regularization.hpp"
#include "lumen/metrics/Metric.hpp"
#include "lumen/metrics/get.hpp"
#include "lumen/model/History.hpp"
#include "lumen/model/Progbar.hpp"
#include "lumen/model/callbacks/Callback.hpp"
#include "lumen/model/model_file.hpp"
#include "lumen/model/summary.hpp"
#include "lumen/optimizers/get.hpp"
#include "lumen/optimizers/optimizer.hpp"

namespace lumen {

// Keras' to_snake_case: "MaxPooling2D" -> "max_pooling2d", "Conv2D" -> "conv2d".
inline std::string to_snake_case(const std::string& class_name) {
    static const std::regex a("(.)([A-Z][a-z0-9]+)"), b("([a-z])([A-Z])");
    std::string s = std::regex_replace(class_name, a, "$1_$2");
    s = std::regex_replace(s, b, "$1_$2");
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// A layer given to Sequential: any layer object (copied into shared ownership) or a shared_ptr to one.
template <class T = float>
class LayerHandle {
public:
    template <class L>
        requires std::derived_from<std::decay_t<L>, layers::Layer<T>>
    LayerHandle(L&& layer) : ptr_(std::make_shared<std::decay_t<L>>(std::forward<L>(layer))) {}  // NOLINT
    template <class L>
        requires std::derived_from<L, layers::Layer<T>>
    LayerHandle(std::shared_ptr<L> layer) : ptr_(std::move(layer)) {  // NOLINT
        require(ptr_ != nullptr, "Sequential: got a null layer pointer");
    }
    [[nodiscard]] const std::shared_ptr<layers::Layer<T>>& get() const { return ptr_; }

private:
    std::shared_ptr<layers::Layer<T>> ptr_;
};

// compile()'s optimizer: a Keras name ("adam"), an optimizer object, or a shared_ptr to one.
template <class T = float>
struct OptimizerArg {
    optimizers::OptimizerPtr<T> ptr;
    OptimizerArg(const char* name) : ptr(optimizers::get<T>(name)) {}         // NOLINT
    OptimizerArg(const std::string& name) : ptr(optimizers::get<T>(name)) {}  // NOLINT
    template <class O>
        requires std::derived_from<std::decay_t<O>, optimizers::Optimizer<T>>
    OptimizerArg(O&& o) : ptr(std::make_shared<std::decay_t<O>>(std::forward<O>(o))) {}  // NOLINT
    template <class O>
        requires std::derived_from<O, optimizers::Optimizer<T>>
    OptimizerArg(std::shared_ptr<O> o) : ptr(std::move(o)) {}  // NOLINT
};

// compile()'s loss: a Keras name ("binary_crossentropy"), a loss object, or a shared_ptr to one.
template <class T = float>
struct LossArg {
    losses::LossPtr<T> ptr;
    LossArg(const char* name) : ptr(losses::get<T>(name)) {}         // NOLINT
    LossArg(const std::string& name) : ptr(losses::get<T>(name)) {}  // NOLINT
    template <class L>
        requires std::derived_from<std::decay_t<L>, losses::Loss<T>>
    LossArg(L&& l) : ptr(std::make_shared<std::decay_t<L>>(std::forward<L>(l))) {}  // NOLINT
    template <class L>
        requires std::derived_from<L, losses::Loss<T>>
    LossArg(std::shared_ptr<L> l) : ptr(std::move(l)) {}  // NOLINT
};

// compile()'s metrics entries: a Keras name ("accuracy", resolved by shapes at the first batch) or an object.
template <class T = float>
struct MetricArg {
    std::string name;
    metrics::MetricPtr<T> ptr;
    MetricArg(const char* n) : name(n) {}         // NOLINT
    MetricArg(std::string n) : name(std::move(n)) {}  // NOLINT
    template <class M>
        requires std::derived_from<std::decay_t<M>, metrics::Metric<T>>
    MetricArg(M&& m) : ptr(std::make_shared<std::decay_t<M>>(std::forward<M>(m))) {}  // NOLINT
    template <class M>
        requires std::derived_from<M, metrics::Metric<T>>
    MetricArg(std::shared_ptr<M> m) : ptr(std::move(m)) {}  // NOLINT
};

struct SequentialOptions {
    std::string name = {};               // empty: "sequential"
    std::optional<Shape> input_shape = {};    // per-sample shape, as Keras' input_shape= on the first layer
    std::uint64_t seed = 0;              // layer i is built with derive_seed(seed, i); shuffling uses its own stream
};

template <class T = float>
struct FitOptions {
    index_t batch_size = 32;
    int epochs = 1;
    int verbose = 1;                 // 0 silent, 1 progress bar, 2 one line per epoch
    double validation_split = 0;     // the LAST fraction of x/y, taken before shuffling
    std::optional<std::pair<Tensor<T>, Tensor<T>>> validation_data = {};
    data::Dataset<T>* validation_dataset = nullptr;  // validation batches from a dataset
    bool shuffle = true;
    std::map<int, double> class_weight = {};              // class index -> weight of its samples in the loss
    std::vector<callbacks::CallbackPtr<T>> callbacks = {};
    int initial_epoch = 0;
    index_t steps_per_epoch = 0;     // 0: the whole data set each epoch
    index_t validation_steps = 0;    // 0: the whole validation set
    std::ostream* out = nullptr;     // progress output; nullptr: std::cout
    std::function<double()> clock = {};   // progress-bar clock in seconds (tests inject one); empty: steady_clock
};

struct EvaluateOptions {
    index_t batch_size = 32;
    int verbose = 1;
    index_t steps = 0;  // 0: all batches
    std::ostream* out = nullptr;
    std::function<double()> clock = {};
};

struct PredictOptions {
    index_t batch_size = 32;
    int verbose = 1;
    index_t steps = 0;
    std::ostream* out = nullptr;
    std::function<double()> clock = {};
};

template <class T = float>
class Sequential : public callbacks::CallbackModel<T> {
public:
    using LayerPtr = std::shared_ptr<layers::Layer<T>>;

    Sequential() : Sequential(std::initializer_list<LayerHandle<T>>{}, SequentialOptions{}) {}
    explicit Sequential(SequentialOptions options) : Sequential(std::initializer_list<LayerHandle<T>>{}, std::move(options)) {}
    Sequential(std::initializer_list<LayerHandle<T>> layers, SequentialOptions options = {})
        : name_(options.name.empty() ? "sequential" : options.name), seed_(options.seed) {
        if (options.input_shape) input_shape_ = *options.input_shape;
        constructing_ = true;
        for (const auto& h : layers) add(h);
        constructing_ = false;
        if (input_shape_ && !layers_.empty()) build(*input_shape_);
    }

    // Appends a layer; a leading Input layer (class "InputLayer") only sets the input shape.
    void add(const LayerHandle<T>& handle) {
        const LayerPtr& layer = handle.get();
        if (layer->class_name() == "InputLayer") {
            require(layers_.empty(), "Sequential \"", name_, "\": an Input layer must come first");
            const auto* input = dynamic_cast<const layers::Input<T>*>(layer.get());
            require(input != nullptr, "Sequential \"", name_, "\": an InputLayer must be a layers::Input");
            input_shape_ = input->shape();
            return;
        }
        if (layer->name().empty()) layer->set_name(unique_name(to_snake_case(layer->class_name())));
        for (const auto& l : layers_)
            require(l->name() != layer->name(), "Sequential \"", name_, "\": two layers are named \"", layer->name(),
                    "\"; layer names must be unique (leave .name empty for an automatic one)");
        layers_.push_back(layer);
        if (built_) {
            layer->build(output_shape_, derive_seed(seed_, layers_.size() - 1));
            output_shape_ = layer->output_shape();
        } else if (input_shape_ && !constructing_) {
            build(*input_shape_);  // an Input was given: build as layers arrive, as Keras does
        }
    }

    // Builds every layer for a per-sample input shape (no batch axis); layer i is seeded with derive_seed(seed, i).
    void build(const Shape& input_shape) {
        require(!layers_.empty(), "Sequential \"", name_, "\": cannot build a model without layers; add() some");
        Shape s = input_shape;
        for (std::size_t i = 0; i < layers_.size(); ++i) s = layers_[i]->build(s, derive_seed(seed_, i));
        input_shape_ = input_shape;
        output_shape_ = s;
        built_ = true;
    }
    [[nodiscard]] bool built() const { return built_; }
    [[nodiscard]] const Shape& output_shape() const { return output_shape_; }
    [[nodiscard]] std::optional<Shape> input_shape() const { return input_shape_; }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] std::uint64_t seed() const { return seed_; }

    [[nodiscard]] const std::vector<LayerPtr>& layers() const { return layers_; }
    // Keras' model.get_layer(name).
    [[nodiscard]] LayerPtr get_layer(const std::string& name) const {
        for (const auto& l : layers_)
            if (l->name() == name) return l;
        std::string names;
        for (const auto& l : layers_) names += (names.empty() ? "" : ", ") + l->name();
        fail("Sequential \"", name_, "\": no layer named \"", name, "\"; layers: ", names);
    }
    [[nodiscard]] LayerPtr get_layer(std::size_t index) const {
        require(index < layers_.size(), "Sequential \"", name_, "\": layer index ", index, " is out of range (",
                layers_.size(), " layers)");
        return layers_[index];
    }

    // ---------------------------------------------------------------- weights
    // Weights the optimizer updates: trainable weights of trainable layers (layer by layer, Keras order).
    [[nodiscard]] std::vector<Weight<T>*> trainable_weights() const {
        std::vector<Weight<T>*> out;
        for (const auto& l : layers_)
            if (l->trainable())
                for (auto* w : l->weights())
                    if (w->trainable) out.push_back(w);
        return out;
    }
    [[nodiscard]] std::vector<Weight<T>*> non_trainable_weights() const {
        std::vector<Weight<T>*> out;
        for (const auto& l : layers_)
            for (auto* w : l->weights())
                if (!l->trainable() || !w->trainable) out.push_back(w);
        return out;
    }
    [[nodiscard]] index_t count_params() const {
        index_t n = 0;
        for (const auto& l : layers_) n += l->count_params();
        return n;
    }

    // Keras' get_weights(): every weight, layer by layer, each layer in its Keras order.
    [[nodiscard]] std::vector<Tensor<T>> get_weights() override {
        require_built("get_weights");
        std::vector<Tensor<T>> out;
        for (const auto& l : layers_)
            for (auto* w : l->weights()) out.push_back(w->value);
        return out;
    }
    void set_weights(const std::vector<Tensor<T>>& weights) override {
        require_built("set_weights");
        std::size_t k = 0, total = 0;
        for (const auto& l : layers_) total += l->weights().size();
        require(weights.size() == total, "Sequential \"", name_, "\": set_weights got ", weights.size(),
                " arrays, the model has ", total, " weights");
        for (const auto& l : layers_)
            for (auto* w : l->weights()) {
                require(weights[k].shape() == w->value.shape(), "Sequential \"", name_, "\": set_weights: layer \"",
                        l->name(), "\" weight \"", w->name, "\" has shape ", w->value.shape().to_string(),
                        ", got ", weights[k].shape().to_string());
                w->value = weights[k++];
            }
    }

    // ---------------------------------------------------------------- summary
    // Keras 2.13–2.15's summary text (spec §6.1); printed to `out` unless it is null, and returned.
    std::string summary(std::ostream* out = &std::cout) const {
        require(built_, "Sequential \"", name_,
                "\": this model has not yet been built; give an Input layer or input_shape, call build(), or call "
                "fit/predict first");
        std::vector<model::SummaryRow> rows;
        index_t trainable = 0, frozen = 0;
        for (const auto& l : layers_) {
            rows.push_back({l->name(), l->class_name(), l->output_shape(), l->count_params()});
            for (auto* w : l->weights()) (l->trainable() && w->trainable ? trainable : frozen) += w->value.size();
        }
        std::string text = model::format_summary(name_, rows, trainable, frozen, sizeof(float));
        if (out) *out << text << std::flush;
        return text;
    }

    // ---------------------------------------------------------------- compile
    void compile(OptimizerArg<T> optimizer, LossArg<T> loss, std::vector<MetricArg<T>> metrics = {}) {
        require(optimizer.ptr && loss.ptr, "Sequential \"", name_, "\": compile needs an optimizer and a loss");
        optimizer_ = optimizer.ptr;
        loss_ = loss.ptr;
        metric_args_ = std::move(metrics);
        metrics_.clear();
        logits_loss_.reset();
        logits_path_checked_ = false;
    }
    [[nodiscard]] bool compiled() const { return optimizer_ && loss_; }
    [[nodiscard]] const optimizers::OptimizerPtr<T>& optimizer() const { return optimizer_; }
    [[nodiscard]] const losses::LossPtr<T>& loss() const { return loss_; }
    [[nodiscard]] std::vector<std::string> metrics_names() const {
        std::vector<std::string> names{"loss"};
        for (const auto& m : metric_args_) names.push_back(m.ptr ? m.ptr->name() : m.name);
        return names;
    }

    // ---------------------------------------------------------------- inference
    // The output of the whole stack for a batch (no batching); training turns on dropout and batch statistics.
    Tensor<T> call(const Tensor<T>& x, bool training = false) {
        ensure_built(x);
        return forward_layers(x, training, fusion_plan(), nullptr);
    }

    // Whether layers that can run fused do, on by default: a Conv2D and the 2x2 MaxPooling2D after it
    // (Layer::fuses_with), and two or more image-wise layers in a row (random flips and warps, Rescaling:
    // Layer::image_wise), which then run image by image. The results are the same bit for bit; off, every layer
    // runs on its own (for comparing the two, or to look at a fused layer's own output).
    void set_layer_fusion(bool on) { layer_fusion_ = on; }
    [[nodiscard]] bool layer_fusion() const { return layer_fusion_; }

    // Keras' predict: batches of batch_size in inference mode, outputs concatenated.
    Tensor<T> predict(const Tensor<T>& x, PredictOptions o = {}) {
        require(x.rank() >= 1 && x.dim(0) >= 1, "Sequential \"", name_, "\": predict needs a batch, got ",
                x.shape().to_string());
        require(o.batch_size >= 1, "predict: batch_size must be >= 1, got ", o.batch_size);
        ensure_built(x);
        const index_t n = x.dim(0);
        index_t steps = (n + o.batch_size - 1) / o.batch_size;
        if (o.steps > 0) steps = std::min(steps, o.steps);
        model::Progbar bar(steps, progbar_options(o.verbose, o.out, o.clock));
        Tensor<T> out;
        index_t row = 0;
        for (index_t s = 0; s < steps; ++s) {
            const index_t b = s * o.batch_size, e = std::min(n, b + o.batch_size);
            Tensor<T> y = call(x.slice(b, e), false);
            if (out.empty()) out = Tensor<T>(y.shape().without_batch().with_batch(std::min(n, steps * o.batch_size)));
            std::copy(y.begin(), y.end(), out.data() + row);
            row += y.size();
            bar.update(s + 1, {}, s + 1 == steps);
        }
        return out;
    }
    Tensor<T> predict(data::Dataset<T>& ds, PredictOptions o = {}) {
        index_t steps = ds.num_batches();
        if (o.steps > 0) steps = std::min(steps, o.steps);
        require(steps >= 1, "Sequential \"", name_, "\": predict got a dataset with no batches");
        model::Progbar bar(steps, progbar_options(o.verbose, o.out, o.clock));
        std::vector<Tensor<T>> parts;
        index_t rows = 0;
        for (index_t s = 0; s < steps; ++s) {
            parts.push_back(call(ds.batch(s).x, false));
            rows += parts.back().dim(0);
            bar.update(s + 1, {}, s + 1 == steps);
        }
        Tensor<T> out(parts[0].shape().without_batch().with_batch(rows));
        T* p = out.data();
        for (const auto& t : parts) p = std::copy(t.begin(), t.end(), p);
        return out;
    }

    // ---------------------------------------------------------------- training
    // One step on one batch, as Keras' train_on_batch: returns this batch's loss (before the update) and
    // metrics. Throws Error (without updating) when the loss or a gradient is not finite.
    model::Logs train_on_batch(const Tensor<T>& x, const Tensor<T>& y, const std::vector<T>* sample_weight = nullptr) {
        require_compiled("train_on_batch");
        ensure_built(x);
        Tensor<T> y_pred;
        ensure_metrics(y, x);
        for (auto& m : metrics_) m->reset_state();
        const StepResult r = train_step(x, y, sample_weight, y_pred);
        if (!r.finite) fail(nonfinite_message(r, -1, -1));
        model::Logs logs{{"loss", double(r.loss)}};
        for (auto& m : metrics_) m->update_state(y, y_pred);
        for (auto& m : metrics_) logs.set(m->name(), m->result());
        return logs;
    }
    // One evaluation step (inference mode): loss and metrics of this batch.
    model::Logs test_on_batch(const Tensor<T>& x, const Tensor<T>& y) {
        require_compiled("test_on_batch");
        ensure_built(x);
        ensure_metrics(y, x);
        for (auto& m : metrics_) m->reset_state();
        Tensor<T> y_pred;
        const T loss = test_step(x, y, y_pred);
        model::Logs logs{{"loss", double(loss)}};
        for (auto& m : metrics_) m->update_state(y, y_pred);
        for (auto& m : metrics_) logs.set(m->name(), m->result());
        return logs;
    }

    // Keras' fit on in-memory tensors: x (N, ...), y (N, ...).
    model::History fit(const Tensor<T>& x, const Tensor<T>& y, FitOptions<T> o = {}) {
        require_compiled("fit");
        require(x.rank() >= 1 && y.rank() >= 1 && x.dim(0) == y.dim(0), "Sequential \"", name_,
                "\": fit got x ", x.shape().to_string(), " and y ", y.shape().to_string(),
                "; they must hold the same number of samples");
        require(x.dim(0) >= 1, "Sequential \"", name_, "\": fit got no samples");
        require(o.batch_size >= 1, "fit: batch_size must be >= 1, got ", o.batch_size);
        require(o.validation_split >= 0 && o.validation_split < 1, "fit: validation_split must be in [0, 1), got ",
                o.validation_split);
        ensure_built(x);
        index_t n = x.dim(0);
        Tensor<T> vx, vy;
        if (o.validation_data) {
            vx = o.validation_data->first;
            vy = o.validation_data->second;
        } else if (o.validation_split > 0) {
            // Keras: the LAST fraction, before any shuffling.
            const auto split_at = static_cast<index_t>(std::floor(double(n) * (1.0 - o.validation_split)));
            require(split_at > 0 && split_at < n, "fit: validation_split=", o.validation_split, " of ", n,
                    " samples leaves an empty training or validation set");
            vx = x.slice(split_at, n);
            vy = y.slice(split_at, n);
            n = split_at;
        }
        const Tensor<T> tx = n == x.dim(0) ? Tensor<T>() : x.slice(0, n);
        const Tensor<T> ty = n == x.dim(0) ? Tensor<T>() : y.slice(0, n);
        const Tensor<T>& train_x = tx.empty() ? x : tx;
        const Tensor<T>& train_y = ty.empty() ? y : ty;
        ensure_metrics(train_y, train_x);

        std::vector<index_t> order(static_cast<std::size_t>(n));
        index_t steps = (n + o.batch_size - 1) / o.batch_size;
        if (o.steps_per_epoch > 0) steps = std::min(steps, o.steps_per_epoch);
        const index_t batch = o.batch_size;
        const bool shuffle = o.shuffle;
        const std::uint64_t shuffle_seed = derive_seed(seed_, 0x5u << 20);
        BatchSource train;
        train.steps = steps;
        train.begin_epoch = [&, shuffle, shuffle_seed](int epoch) {
            for (index_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
            if (shuffle) {
                // One stream per epoch: a run resumed at initial_epoch = k shuffles exactly as the uninterrupted one.
                Generator g(derive_seed(shuffle_seed, static_cast<std::uint64_t>(epoch)));
                g.shuffle(order.begin(), order.end());
            }
        };
        train.get = [&, batch](index_t s) {
            const index_t b = s * batch, e = std::min(n, b + batch);
            return data::Batch<T>{gather(train_x, order, b, e), gather(train_y, order, b, e)};
        };
        std::optional<BatchSource> val;
        if (!vx.empty()) val = tensor_source(vx, vy, batch, o.validation_steps);
        else if (o.validation_dataset) val = dataset_source(*o.validation_dataset, o.validation_steps);
        return run_fit(train, val, o);
    }

    // Keras' fit on a dataset (a Sequence): steps_per_epoch batches (default: all) per epoch.
    model::History fit(data::Dataset<T>& ds, FitOptions<T> o = {}) {
        require_compiled("fit");
        require(o.validation_split == 0, "fit: validation_split is only supported for tensors (as in Keras); pass "
                                         "validation_dataset or validation_data instead");
        require(!o.validation_data || !o.validation_dataset, "fit: give validation_data or validation_dataset, not both");
        require(ds.num_batches() >= 1, "Sequential \"", name_, "\": fit got a dataset with no batches");
        BatchSource train = dataset_source(ds, o.steps_per_epoch);
        train.end_epoch = [&ds] { ds.on_epoch_end(); };
        std::optional<BatchSource> val;
        if (o.validation_data)
            val = tensor_source(o.validation_data->first, o.validation_data->second, o.batch_size, o.validation_steps);
        else if (o.validation_dataset)
            val = dataset_source(*o.validation_dataset, o.validation_steps);
        return run_fit(train, val, o);
    }

    // Keras' evaluate: loss and metrics over the data in inference mode (Logs: "loss", then the metrics).
    model::Logs evaluate(const Tensor<T>& x, const Tensor<T>& y, EvaluateOptions o = {}) {
        require_compiled("evaluate");
        require(x.rank() >= 1 && y.rank() >= 1 && x.dim(0) == y.dim(0) && x.dim(0) >= 1, "Sequential \"", name_,
                "\": evaluate got x ", x.shape().to_string(), " and y ", y.shape().to_string());
        ensure_built(x);
        ensure_metrics(y, x);
        BatchSource src = tensor_source(x, y, o.batch_size, o.steps);
        model::Progbar bar(src.steps, progbar_options(o.verbose, o.out, o.clock));
        return run_test(src, &bar);
    }
    model::Logs evaluate(data::Dataset<T>& ds, EvaluateOptions o = {}) {
        require_compiled("evaluate");
        BatchSource src = dataset_source(ds, o.steps);
        model::Progbar bar(src.steps, progbar_options(o.verbose, o.out, o.clock));
        return run_test(src, &bar);
    }

    // ---------------------------------------------------------------- callbacks' view
    [[nodiscard]] double learning_rate() const override {
        require_compiled("learning_rate");
        return optimizer_->current_learning_rate();
    }
    void set_learning_rate(double lr) override {
        require_compiled("set_learning_rate");
        optimizer_->set_learning_rate(lr);
    }
    [[nodiscard]] std::ostream& log_stream() override { return out_ ? *out_ : std::cout; }

    // ---------------------------------------------------------------- saving (model_file.hpp, saving.hpp)
    // The whole model: architecture, weights and (if compiled and include_optimizer) the optimizer state.
    void save(const std::string& path, bool include_optimizer = true) override {
        require_built("save");
        model::ModelFile f;
        f.architecture = architecture_text();
        f.weights = saved_weights();
        if (include_optimizer && optimizer_) {
            model::SavedOptimizer so;
            so.class_name = optimizer_->name();
            so.config = config_text(optimizer_->get_config());
            so.iterations = optimizer_->iterations();
            for (Tensor<T>* s : optimizer_->slots()) so.slots.push_back(model::to_saved(*s));
            f.optimizer = std::move(so);
        }
        model::write_model_file(path, f);
    }
    // Weights only (the same file format, with the architecture for reference and no optimizer).
    void save_weights(const std::string& path) override { save(path, false); }

    struct LoadWeightsOptions {
        bool skip_mismatch = false;  // skip weights whose shape differs (reported), instead of failing
    };
    // Loads weights by layer name and weight name from a file written by save() or save_weights(). Layers of
    // this model absent from the file keep their weights (the transfer-learning case); returns a report of
    // what was loaded and skipped.
    std::string load_weights(const std::string& path, LoadWeightsOptions o = {}) {
        require_built("load_weights");
        const model::ModelFile f = model::read_model_file(path);
        std::ostringstream report;
        int loaded = 0;
        for (const auto& l : layers_) {
            for (auto* w : l->weights()) {
                const model::SavedWeight* found = nullptr;
                for (const auto& sw : f.weights)
                    if (sw.layer == l->name() && sw.name == w->name) found = &sw;
                if (!found) {
                    report << "not in file: " << l->name() << "/" << w->name << "\n";
                    continue;
                }
                if (found->tensor.shape != w->value.shape()) {
                    const std::string msg = "load_weights: \"" + path + "\": layer \"" + l->name() + "\" weight \"" +
                                            w->name + "\" has shape " + found->tensor.shape.to_string() +
                                            " in the file but " + w->value.shape().to_string() + " in the model";
                    require(o.skip_mismatch, msg, " (pass skip_mismatch to skip it)");
                    report << "skipped (shape mismatch): " << l->name() << "/" << w->name << "\n";
                    continue;
                }
                w->value = model::from_saved<T>(found->tensor);
                ++loaded;
            }
        }
        require(loaded > 0, "load_weights: \"", path, "\" holds no weight whose layer and weight names match this model");
        report << "loaded " << loaded << " weights\n";
        return report.str();
    }

    // The architecture text of save() (read back by load_model in saving.hpp).
    [[nodiscard]] std::string architecture_text() const {
        std::ostringstream s;
        s << "format\tlumen-sequential\t1\n";
        s << "name\t" << model::escape_field(name_) << "\n";
        s << "seed\t" << seed_ << "\n";
        s << "input_shape\t" << shape_text(*input_shape_) << "\n";
        for (const auto& l : layers_) {
            s << "layer\t" << model::escape_field(l->class_name()) << "\t" << model::escape_field(l->name()) << "\t"
              << (l->trainable() ? 1 : 0) << "\n";
            for (const auto& [k, v] : l->get_config())
                s << "config\t" << model::escape_field(k) << "\t" << model::escape_field(v) << "\n";
        }
        if (loss_) {
            s << "loss\t" << model::escape_field(loss_->class_name()) << "\n";
            for (const auto& [k, v] : loss_->get_config())
                s << "loss_config\t" << model::escape_field(k) << "\t" << model::escape_field(v) << "\n";
            for (const auto& m : metric_args_)
                s << "metric\t" << model::escape_field(m.ptr ? m.ptr->class_name() : m.name) << "\t"
                  << model::escape_field(m.ptr ? m.ptr->name() : m.name) << "\n";
        }
        return s.str();
    }

    // Replaces the optimizer state with a saved one (used by load_model): slots in the optimizer's order.
    void restore_optimizer_state(std::int64_t iterations, const std::vector<Tensor<T>>& slots, const std::string& where) {
        require_compiled("restore_optimizer_state");
        optimizer_->build(trainable_weights());
        auto mine = optimizer_->slots();
        // A model saved after compile() but before its first step: the optimizer had not made its slots yet,
        // and fresh ones (zeros) are exactly that state.
        if (slots.empty() && iterations == 0) return optimizer_->set_iterations(0);
        require(mine.size() == slots.size(), where, ": the optimizer state holds ", slots.size(), " slots but ",
                optimizer_->name(), " has ", mine.size(), " for this model");
        for (std::size_t i = 0; i < slots.size(); ++i) {
            require(mine[i]->shape() == slots[i].shape(), where, ": optimizer slot ", i, " has shape ",
                    slots[i].shape().to_string(), ", expected ", mine[i]->shape().to_string());
            *mine[i] = slots[i];
        }
        optimizer_->set_iterations(iterations);
    }

private:
    struct StepResult {
        T loss = 0;
        bool finite = true;
        bool loss_finite = true;
    };
    struct BatchSource {
        index_t steps = 0;
        std::function<void(int)> begin_epoch;
        std::function<data::Batch<T>(index_t)> get;
        std::function<void()> end_epoch;
    };

    // ---- names, build
    std::string unique_name(const std::string& base) {
        for (;;) {
            const int k = name_counts_[base]++;
            std::string candidate = k == 0 ? base : base + "_" + std::to_string(k);
            bool taken = false;
            for (const auto& l : layers_) taken = taken || l->name() == candidate;
            if (!taken) return candidate;
        }
    }
    void ensure_built(const Tensor<T>& x) {
        if (!built_ && input_shape_ && !layers_.empty()) build(*input_shape_);
        if (!built_) {
            require(x.rank() >= 2, "Sequential \"", name_, "\": cannot infer the input shape from ",
                    x.shape().to_string(), "; give an Input layer");
            build(x.shape().without_batch());
        }
        require(x.rank() == input_shape_->rank() + 1 && x.shape().without_batch() == *input_shape_, "Sequential \"",
                name_, "\": expected input of shape ", input_shape_->to_keras_string(), ", got ",
                x.shape().to_string());
    }
    void require_built(const char* what) const {
        require(built_, "Sequential \"", name_, "\": ", what,
                " needs a built model (give an Input layer or input_shape, or call build())");
    }
    void require_compiled(const char* what) const {
        require(compiled(), "Sequential \"", name_, "\": ", what,
                " needs a compiled model; call compile(optimizer, loss, metrics) first");
    }
    static std::string shape_text(const Shape& s) {
        std::string t;
        for (index_t d : s.dims()) t += (t.empty() ? "" : ",") + std::to_string(d);
        return t;
    }
    static std::string config_text(const Config& c) {
        std::string t;
        for (const auto& [k, v] : c) t += model::escape_field(k) + "\t" + model::escape_field(v) + "\n";
        return t;
    }
    [[nodiscard]] std::vector<model::SavedWeight> saved_weights() const {
        std::vector<model::SavedWeight> out;
        for (const auto& l : layers_)
            for (auto* w : l->weights()) out.push_back({l->name(), w->name, model::to_saved(w->value)});
        return out;
    }

    // ---- metrics and the loss-from-logits path
    void ensure_metrics(const Tensor<T>& y, const Tensor<T>& x) {
        if (metrics_.size() == metric_args_.size() && !metric_args_.empty()) return;
        if (metric_args_.empty()) return;
        metrics_.clear();
        const Shape pred = output_shape_.with_batch(x.dim(0));
        for (const auto& m : metric_args_) metrics_.push_back(m.ptr ? m.ptr : metrics::get<T>(m.name, y.shape(), pred));
    }
    // Keras computes BCE / CCE with from_logits = false from the logits when the output comes straight from a
    // sigmoid / softmax: lumen does the same when the last layer is an Activation("sigmoid"/"softmax") layer
    // (the loss then starts from the layer below it, no clipping). Activations fused into Dense / Conv2D use the
    // probabilities with the loss's clipping (documented in docs/training.md).
    const losses::Loss<T>* logits_loss() {
        if (!logits_path_checked_) {
            logits_path_checked_ = true;
            logits_loss_.reset();
            if (layers_.size() >= 2 && !loss_->from_logits() && layers_.back()->class_name() == "Activation") {
                std::string act;
                for (const auto& [k, v] : layers_.back()->get_config())
                    if (k == "activation") act = v;
                const std::string cls = loss_->class_name();
                const bool fits = (act == "sigmoid" && cls == "BinaryCrossentropy") ||
                                  (act == "softmax" &&
                                   (cls == "CategoricalCrossentropy" || cls == "SparseCategoricalCrossentropy"));
                if (fits) {
                    Config c = loss_->get_config();
                    for (auto& [k, v] : c)
                        if (k == "from_logits") v = "True";
                    logits_loss_ = losses::from_config<T>(cls, c);
                    if (!logits_loss_->from_logits()) logits_loss_.reset();
                }
            }
        }
        return logits_loss_.get();
    }

    // A batch whose activations do not fit in memory: std::bad_alloc from inside a layer becomes an Error naming
    // the layer and the batch size, with the fix (docs/reliability.md, "Out of memory").
    Tensor<T> layer_forward(std::size_t i, const Tensor<T>& h, bool training) {
        try {
            return layers_[i]->forward(h, training);
        } catch (const std::bad_alloc&) {
            out_of_memory(i, "forward", h);
        }
    }
    // How forward runs the stack (set_layer_fusion(false): every layer alone).
    //   pair[i]       layer i runs fused with layer i + 1 (Layer::fuses_with: a Conv2D and its 2x2 pooling), one
    //                 forward_fused and one backward_fused call
    //   chain_end[i]  > 0: layers i .. chain_end[i] - 1, two or more image-wise layers in a row (the random
    //                 augmentations, Rescaling), run image by image (image_chain); their backward is layer by layer
    // Neither includes the model's last layer (a loss from logits reads its input).
    struct FusionPlan {
        std::vector<bool> pair;
        std::vector<std::size_t> chain_end;
    };
    FusionPlan fusion_plan() const {
        const std::size_t n = layers_.size();
        FusionPlan plan{std::vector<bool>(n, false), std::vector<std::size_t>(n, 0)};
        if (!layer_fusion_) return plan;
        for (std::size_t i = 0; i + 2 < n; ++i) {
            std::size_t end = i;
            while (end + 1 < n && layers_[end]->image_wise()) ++end;
            if (end - i >= 2) {
                plan.chain_end[i] = end;
                i = end - 1;
            } else if (layers_[i]->fuses_with(*layers_[i + 1])) {
                plan.pair[i++] = true;
            }
        }
        return plan;
    }
    // The stack on x, fused pairs and image-wise chains as one call each (`plan` from fusion_plan()); the batch
    // itself is not copied. *last_input, when given, receives the last layer's input (the logits a loss
    // from_logits reads).
    Tensor<T> forward_layers(const Tensor<T>& x, bool training, const FusionPlan& plan, Tensor<T>* last_input) {
        if (layers_.empty()) return x;
        Tensor<T> h;
        const Tensor<T>* in = &x;
        for (std::size_t i = 0; i < layers_.size(); ++i, in = &h) {
            if (last_input && i + 1 == layers_.size()) *last_input = *in;
            if (plan.chain_end[i] > 0) {
                h = image_chain(i, plan.chain_end[i], *in, training);
                i = plan.chain_end[i] - 1;
            } else {
                h = plan.pair[i] ? fused_forward(i++, *in, training) : layer_forward(i, *in, training);
            }
        }
        return h;
    }
    // Layers [first, end), all image-wise (Layer::image_wise), on x (N, H, W, C) image by image: each thread
    // takes whole images and passes each through all the layers while it is in the core's cache (two scratch
    // images per thread), then writes it once into y. Same numbers as layer by layer: a layer's forward is its
    // begin_images and then forward_image on every image. With fewer images than threads, layer by layer (whose
    // warps split an image between threads).
    Tensor<T> image_chain(std::size_t first, std::size_t end, const Tensor<T>& x, bool training) {
        const int threads = num_threads();
        if (x.rank() < 2 || x.dim(0) < threads) {
            Tensor<T> h = layer_forward(first, x, training);
            for (std::size_t k = first + 1; k < end; ++k) h = layer_forward(k, h, training);
            return h;
        }
        std::vector<const layers::Layer<T>*> active;  // the layers that change this batch (all of them in training)
        const index_t N = x.dim(0), per = x.size() / N;
        Tensor<T> y, scratch;
        try {
            for (std::size_t k = first; k < end; ++k)
                if (layers_[k]->begin_images(x, training)) active.push_back(layers_[k].get());
            if (active.empty()) return x;
            y = Tensor<T>(x.shape(), uninitialized);  // every image is written below
            if (active.size() > 1) scratch = Tensor<T>(Shape{threads, 2, per}, uninitialized);
        } catch (const std::bad_alloc&) {
            out_of_memory(first, "forward", x);
        }
        std::exception_ptr error;  // forward_image must not throw; if a user's layer does, it comes out here
#pragma omp parallel num_threads(threads)
        {
            T* buffer[2] = {nullptr, nullptr};
            if (active.size() > 1)
                for (int b = 0; b < 2; ++b) buffer[b] = scratch.data() + (index_t(thread_index()) * 2 + b) * per;
#pragma omp for schedule(static)
            for (index_t n = 0; n < N; ++n) {
                try {
                    const T* from = x.data() + n * per;  // image n as the layers so far have left it
                    T* const out = y.data() + n * per;
                    int spare = 0;  // the scratch image not holding `from`
                    for (std::size_t k = 0; k < active.size(); ++k) {
                        T* to = k + 1 == active.size() ? out : buffer[spare];
                        if (!active[k]->forward_image(n, from, to)) continue;  // passed through unchanged
                        from = to;
                        spare ^= 1;
                    }
                    if (from != out) std::copy(from, from + per, out);
                } catch (...) {
#pragma omp critical(lumen_image_chain)
                    if (!error) error = std::current_exception();
                }
            }
        }
        if (error) std::rethrow_exception(error);
        return y;
    }
    Tensor<T> fused_forward(std::size_t i, const Tensor<T>& h, bool training) {
        try {
            return layers_[i]->forward_fused(h, training, *layers_[i + 1]);
        } catch (const std::bad_alloc&) {
            out_of_memory(i, "forward", h);
        }
    }
    Tensor<T> fused_backward(std::size_t i, const Tensor<T>& g) {
        try {
            return layers_[i]->backward_fused(g, *layers_[i + 1]);
        } catch (const std::bad_alloc&) {
            out_of_memory(i, "backward", g);
        }
    }
    Tensor<T> layer_backward(std::size_t i, const Tensor<T>& g) {
        try {
            return layers_[i]->backward(g);
        } catch (const std::bad_alloc&) {
            out_of_memory(i, "backward", g);
        }
    }
    [[noreturn]] void out_of_memory(std::size_t i, const char* pass, const Tensor<T>& t) const {
        fail("Sequential \"", name_, "\": out of memory in layer ", layers_[i]->class_name(), " \"",
             layers_[i]->name(), "\" (", pass, ") at batch size ", t.rank() ? t.dim(0) : 1,
             ": try a smaller batch_size");
    }

    // ---- one step
    StepResult train_step(const Tensor<T>& x, const Tensor<T>& y, const std::vector<T>* sample_weight,
                          Tensor<T>& y_pred) {
        for (const auto& l : layers_) l->zero_grad();
        const losses::Loss<T>* from_logits = logits_loss();
        const std::size_t n = layers_.size();
        const FusionPlan plan = fusion_plan();  // layers run as one (set_layer_fusion)
        Tensor<T> logits;
        y_pred = forward_layers(x, true, plan, from_logits ? &logits : nullptr);
        Tensor<T> grad;
        StepResult r;
        r.loss = from_logits ? from_logits->compute(y, logits, &grad, sample_weight)
                             : loss_->compute(y, y_pred, &grad, sample_weight);
        // Backward stops at the first layer with trainable weights: nothing below it (a frozen base in transfer
        // learning, the input image) needs a gradient, and skipping it makes training a new head cheap.
        std::size_t first = n;
        for (std::size_t i = 0; i < n && first == n; ++i)
            if (layers_[i]->trainable())
                for (auto* w : layers_[i]->weights())
                    if (w->trainable) first = i;
        Tensor<T> g = std::move(grad);
        for (std::size_t i = from_logits ? n - 1 : n; i-- > first;) {
            const bool pair = i > 0 && plan.pair[i - 1];  // layer i ran fused with layer i - 1: their backward is one call
            if (pair) --i;  // (a pair's second layer has no weights: it is never `first`, the first is >= first)
            if (i != first) {
                g = pair ? fused_backward(i, g) : layer_backward(i, g);
                continue;
            }
            // The lowest trained layer's dx would be thrown away: tell it so for this call, and put its flag back
            // afterwards even if backward throws (the layer may also be used elsewhere).
            struct Restore {
                layers::Layer<T>& layer;
                bool was;
                ~Restore() { layer.set_input_gradient_needed(was); }
            } restore{*layers_[i], layers_[i]->input_gradient_needed()};
            layers_[i]->set_input_gradient_needed(false);
            g = pair ? fused_backward(i, g) : layer_backward(i, g);
        }
        const auto trainable = trainable_weights();
        r.loss += losses::apply_regularization(trainable) + losses::regularization_penalty(non_trainable_weights());
        r.loss_finite = std::isfinite(double(r.loss));
        r.finite = r.loss_finite && all_finite(trainable);
        if (r.finite) optimizer_->apply_gradients(trainable);
        return r;
    }
    T test_step(const Tensor<T>& x, const Tensor<T>& y, Tensor<T>& y_pred) {
        const losses::Loss<T>* from_logits = logits_loss();
        Tensor<T> logits;
        y_pred = forward_layers(x, false, fusion_plan(), from_logits ? &logits : nullptr);
        T loss = from_logits ? from_logits->compute(y, logits) : loss_->compute(y, y_pred);
        std::vector<Weight<T>*> all;
        for (const auto& l : layers_)
            for (auto* w : l->weights()) all.push_back(w);
        return loss + losses::regularization_penalty(all);
    }
    // Every gradient finite: a scan of all of them each step (4M values for flowers), in blocks split across threads.
    static bool all_finite(const std::vector<Weight<T>*>& weights) {
        for (const auto* w : weights) {
            const T* g = w->grad.data();
            const index_t n = w->grad.size(), block = index_t{1} << 16, blocks = (n + block - 1) / block;
            int bad = 0;
#pragma omp parallel for num_threads(blocks > 1 ? num_threads() : 1) schedule(static) reduction(| : bad)
            for (index_t b = 0; b < blocks; ++b) {
                T sum = 0;  // x - x is 0 for finite x and NaN for infinities and NaN: one NaN test per block
#pragma omp simd reduction(+ : sum)
                for (index_t i = b * block; i < std::min(n, (b + 1) * block); ++i) sum += g[i] - g[i];
                bad |= std::isnan(double(sum)) ? 1 : 0;
            }
            if (bad) return false;
        }
        return true;
    }
    std::string nonfinite_message(const StepResult& r, int epoch, index_t step) const {
        std::ostringstream s;
        s << "Sequential \"" << name_ << "\": " << (r.loss_finite ? "a gradient is not finite" : "the loss is ")
          << (r.loss_finite ? "" : (std::isnan(double(r.loss)) ? "NaN" : "infinite"));
        if (epoch >= 0) s << " at epoch " << epoch + 1 << ", step " << step + 1;
        s << "; training stopped and the model keeps the weights of the last good step (no update was applied). "
             "Lower the learning rate, check the inputs for NaN and the labels for the loss, or add "
             "callbacks::TerminateOnNaN to stop without an exception";
        return s.str();
    }

    // ---- sample weights from class_weight
    std::vector<T> class_weights_for(const Tensor<T>& y, const std::map<int, double>& cw) const {
        const index_t n = y.dim(0);
        const index_t per = n ? y.size() / n : 0;
        std::vector<T> w(static_cast<std::size_t>(n));
        for (index_t i = 0; i < n; ++i) {
            const T* row = y.data() + i * per;
            const int label = per > 1 ? static_cast<int>(metrics::argmax(row, per))
                                      : static_cast<int>(std::lround(double(row[0])));
            auto it = cw.find(label);
            require(it != cw.end(), "fit: class_weight has no entry for class ", label,
                    "; give a weight for every class 0..K-1");
            w[static_cast<std::size_t>(i)] = static_cast<T>(it->second);
        }
        return w;
    }

    static Tensor<T> gather(const Tensor<T>& t, const std::vector<index_t>& order, index_t b, index_t e) {
        Shape s = t.shape();
        s[0] = e - b;
        Tensor<T> out(s);
        const index_t per = t.dim(0) ? t.size() / t.dim(0) : 0;
        for (index_t i = b; i < e; ++i) {
            const T* src = t.data() + order[static_cast<std::size_t>(i)] * per;
            std::copy(src, src + per, out.data() + (i - b) * per);
        }
        return out;
    }
    static BatchSource tensor_source(const Tensor<T>& x, const Tensor<T>& y, index_t batch, index_t max_steps) {
        require(batch >= 1, "batch_size must be >= 1, got ", batch);
        require(x.rank() >= 1 && y.rank() >= 1 && x.dim(0) == y.dim(0) && x.dim(0) >= 1,
                "validation/evaluation data: x ", x.shape().to_string(), " and y ", y.shape().to_string(),
                " must hold the same number (>= 1) of samples");
        BatchSource s;
        const index_t n = x.dim(0);
        s.steps = (n + batch - 1) / batch;
        if (max_steps > 0) s.steps = std::min(s.steps, max_steps);
        auto xs = std::make_shared<Tensor<T>>(x);
        auto ys = std::make_shared<Tensor<T>>(y);
        s.get = [xs, ys, batch, n](index_t i) {
            const index_t b = i * batch, e = std::min(n, b + batch);
            return data::Batch<T>{xs->slice(b, e), ys->slice(b, e)};
        };
        return s;
    }
    static BatchSource dataset_source(data::Dataset<T>& ds, index_t max_steps) {
        BatchSource s;
        s.steps = ds.num_batches();
        if (max_steps > 0) s.steps = std::min(s.steps, max_steps);
        s.get = [&ds](index_t i) { return ds.batch(i); };
        return s;
    }

    model::ProgbarOptions progbar_options(int verbose, std::ostream* out, std::function<double()> clock) const {
        model::ProgbarOptions p;
        p.verbose = verbose;
        p.out = out;
        p.clock = std::move(clock);
        return p;
    }

    // Runs a source in inference mode: Logs with the sample-weighted mean loss and the metrics.
    model::Logs run_test(BatchSource& src, model::Progbar* bar) {
        for (auto& m : metrics_) m->reset_state();
        double loss_sum = 0;
        index_t seen = 0;
        model::Logs logs;
        for (index_t s = 0; s < src.steps; ++s) {
            data::Batch<T> b = src.get(s);
            ensure_built(b.x);
            ensure_metrics(b.y, b.x);
            Tensor<T> y_pred;
            const T loss = test_step(b.x, b.y, y_pred);
            loss_sum += double(loss) * double(b.x.dim(0));
            seen += b.x.dim(0);
            for (auto& m : metrics_) m->update_state(b.y, y_pred);
            logs = model::Logs{{"loss", loss_sum / double(seen)}};
            for (auto& m : metrics_) logs.set(m->name(), m->result());
            if (bar) bar->update(s + 1, logs, s + 1 == src.steps);
        }
        return logs;
    }

    model::History run_fit(BatchSource& train, std::optional<BatchSource>& val, FitOptions<T>& o) {
        require(o.epochs >= 1 || o.epochs == o.initial_epoch, "fit: epochs must be >= 1, got ", o.epochs);
        require(o.initial_epoch >= 0 && o.initial_epoch <= o.epochs, "fit: initial_epoch must be in [0, epochs], got ",
                o.initial_epoch);
        require(train.steps >= 1, "fit: no training batches");
        out_ = o.out;
        struct ResetOut {
            Sequential* m;
            ~ResetOut() { m->out_ = nullptr; }
        } reset_out{this};
        this->stop_training = false;
        for (auto& cb : o.callbacks) {
            require(cb != nullptr, "fit: a callback is null");
            cb->set_model(this);
        }
        model::History history;
        history.params = {{"verbose", o.verbose}, {"epochs", o.epochs}, {"steps", train.steps}};
        model::Logs empty;
        for (auto& cb : o.callbacks) cb->on_train_begin(empty);
        for (int epoch = o.initial_epoch; epoch < o.epochs && !this->stop_training; ++epoch) {
            model::Logs epoch_logs;
            for (auto& cb : o.callbacks) cb->on_epoch_begin(epoch, epoch_logs);
            if (o.verbose > 0 && o.epochs > 1) log_stream() << "Epoch " << epoch + 1 << "/" << o.epochs << "\n" << std::flush;
            model::Progbar bar(train.steps, progbar_options(o.verbose, o.out, o.clock));
            if (train.begin_epoch) train.begin_epoch(epoch);
            for (auto& m : metrics_) m->reset_state();
            double loss_sum = 0;
            index_t seen = 0;
            model::Logs logs;
            for (index_t step = 0; step < train.steps; ++step) {
                model::Logs batch_logs;
                for (auto& cb : o.callbacks) cb->on_batch_begin(step, batch_logs);
                data::Batch<T> b = train.get(step);
                ensure_built(b.x);
                ensure_metrics(b.y, b.x);
                std::vector<T> sw;
                if (!o.class_weight.empty()) sw = class_weights_for(b.y, o.class_weight);
                Tensor<T> y_pred;
                const StepResult r = train_step(b.x, b.y, sw.empty() ? nullptr : &sw, y_pred);
                loss_sum += double(r.loss) * double(b.x.dim(0));
                seen += b.x.dim(0);
                for (auto& m : metrics_) m->update_state(b.y, y_pred);
                logs = model::Logs{{"loss", loss_sum / double(seen)}};
                for (auto& m : metrics_) logs.set(m->name(), m->result());
                for (auto& cb : o.callbacks) cb->on_batch_end(step, logs);
                if (!r.finite) {
                    if (this->stop_training) break;  // e.g. TerminateOnNaN: stop quietly
                    fail(nonfinite_message(r, epoch, step));
                }
                bar.update(step + 1, logs);
                if (this->stop_training) break;
            }
            if (train.end_epoch) train.end_epoch();
            epoch_logs = logs;
            if (val) {
                const model::Logs v = run_test(*val, nullptr);
                for (const auto& [k, value] : v) epoch_logs.set("val_" + k, value);
            }
            for (auto& cb : o.callbacks) cb->on_epoch_end(epoch, epoch_logs);
            history.record(epoch, epoch_logs);
            bar.update(train.steps, epoch_logs, true);
        }
        for (auto& cb : o.callbacks) cb->on_train_end(empty);
        return history;
    }

    std::string name_;
    std::uint64_t seed_ = 0;
    std::vector<LayerPtr> layers_;
    std::map<std::string, int> name_counts_;
    std::optional<Shape> input_shape_;
    Shape output_shape_;
    bool built_ = false;
    bool constructing_ = false;
    bool layer_fusion_ = true;  // set_layer_fusion

    optimizers::OptimizerPtr<T> optimizer_;
    losses::LossPtr<T> loss_;
    std::vector<MetricArg<T>> metric_args_;
    std::vector<metrics::MetricPtr<T>> metrics_;
    losses::LossPtr<T> logits_loss_;
    bool logits_path_checked_ = false;
    std::ostream* out_ = nullptr;
};

// `Sequential model{layers::Conv2D(...), ...}` is a Sequential<float>.
Sequential(std::initializer_list<LayerHandle<float>>) -> Sequential<float>;
Sequential(std::initializer_list<LayerHandle<float>>, SequentialOptions) -> Sequential<float>;

}  // namespace lumen
