// load_model<T>(path): the inverse of Sequential::save (file format: model_file.hpp, docs/training.md).
//
// Rebuilds each layer from its class name and get_config() (layer_registry.hpp), builds the model with the
// saved seed and input shape, copies the weights (which must match the architecture one for one: same layer
// names, weight names and shapes), and, when the file holds an optimizer state, compiles the model with the
// saved loss, metrics and optimizer and restores the optimizer's iterations and slots, so training continues
// exactly where it stopped. Any inconsistency is an Error naming the file and the problem.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include "lumen/core/error.hpp"
#include "lumen/model/Sequential.hpp"
#include "lumen/model/layer_registry.hpp"
#include "lumen/model/model_file.hpp"

namespace lumen {

namespace saving_detail {
inline Config parse_config_text(const std::string& text) {
    Config c;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        const auto f = model::split_fields(line);
        c.emplace_back(f[0], f.size() > 1 ? f[1] : std::string());
    }
    return c;
}
inline Shape parse_shape_text(const std::string& text, const std::string& where) {
    std::vector<index_t> dims;
    std::size_t start = 0;
    while (start <= text.size() && !text.empty()) {
        auto end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        const std::string part = text.substr(start, end - start);
        require(!part.empty() && part.find_first_not_of("0123456789") == std::string::npos && part.size() < 12, where,
                ": bad input_shape \"", text, "\"");
        dims.push_back(std::stoll(part));
        start = end + 1;
        if (end == text.size()) break;
    }
    return Shape(dims);
}
}  // namespace saving_detail

namespace saving_detail {
template <class T>
inline Sequential<T> build_from_file(const model::ModelFile& f, const std::string& where);
}  // namespace saving_detail

// Every failure is a lumen::Error whose message names the file: the reader's checks, a bad architecture text
// (unknown class, unreadable number) and a layer's own from_config() error alike.
template <class T = float>
inline Sequential<T> load_model(const std::string& path) {
    const model::ModelFile f = model::read_model_file(path);
    const std::string where = "load_model: \"" + path + "\"";
    try {
        return saving_detail::build_from_file<T>(f, where);
    } catch (const Error& e) {
        const std::string what = e.what();
        if (what.rfind(where, 0) == 0) throw;
        fail(where, ": ", what);
    } catch (const std::exception& e) {
        fail(where, ": the architecture holds an unreadable value (", e.what(), ")");
    }
}

namespace saving_detail {
template <class T>
inline Sequential<T> build_from_file(const model::ModelFile& f, const std::string& where) {

    struct LayerSpec {
        std::string cls, name;
        bool trainable = true;
        Config config;
    };
    SequentialOptions opts;
    std::vector<LayerSpec> specs;
    std::string loss_cls;
    Config loss_cfg;
    std::vector<std::pair<std::string, std::string>> metric_specs;
    bool format_ok = false;
    std::size_t start = 0;
    const std::string& text = f.architecture;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const auto fields = model::split_fields(text.substr(start, end - start));
        start = end + 1;
        const std::string& key = fields[0];
        auto field = [&](std::size_t i) -> const std::string& {
            require(i < fields.size(), where, ": architecture line \"", key, "\" has too few fields");
            return fields[i];
        };
        if (key == "format") {
            require(field(1) == "lumen-sequential" && field(2) == "1", where, ": unknown architecture format \"",
                    field(1), " ", field(2), "\"");
            format_ok = true;
        } else if (key == "name") {
            opts.name = field(1);
        } else if (key == "seed") {
            opts.seed = std::stoull(field(1));
        } else if (key == "input_shape") {
            opts.input_shape = saving_detail::parse_shape_text(field(1), where);
        } else if (key == "layer") {
            specs.push_back({field(1), field(2), field(3) == "1", {}});
        } else if (key == "config") {
            require(!specs.empty(), where, ": a layer config line comes before any layer");
            specs.back().config.emplace_back(field(1), field(2));
        } else if (key == "loss") {
            loss_cls = field(1);
        } else if (key == "loss_config") {
            loss_cfg.emplace_back(field(1), field(2));
        } else if (key == "metric") {
            metric_specs.emplace_back(field(1), field(2));
        } else if (!key.empty()) {
            fail(where, ": unknown architecture line \"", key, "\"");
        }
    }
    require(format_ok, where, ": the architecture has no format line");
    require(opts.input_shape.has_value(), where, ": the architecture has no input_shape");
    require(!specs.empty(), where, ": the architecture has no layers");

    const Shape input_shape = *opts.input_shape;
    opts.input_shape.reset();  // add every layer first, then build once
    Sequential<T> model(opts);
    {
        // Building allocates each weight and its gradient, and the weights must match the file's one for one.
        // Layers also allocate (value and gradient of) weights they neither use nor save: Dense's and Conv2D's
        // bias without use_bias (never more elements than the kernel), BatchNormalization's gamma and beta
        // without scale/center (as many as its two saved moving statistics). So a genuine file never needs
        // more than 4 x its stored values, plus 2^20 elements for small buffers; an architecture that does is
        // forged or broken: refuse it before allocating rather than after.
        index_t stored = 0;
        for (const auto& sw : f.weights) stored += sw.tensor.shape.size();
        const TensorBudget budget(4 * stored + (index_t{1} << 20),
                                  "what the file's weights section can fill (" + std::to_string(stored) + " values)");
        for (const auto& s : specs) {
            auto layer = model::layer_from_config<T>(s.cls, s.config);
            layer->set_name(s.name);
            layer->set_trainable(s.trainable);
            model.add(layer);
        }
        model.build(input_shape);
    }

    // Weights: one for one with the architecture.
    std::size_t k = 0;
    for (const auto& layer : model.layers())
        for (auto* w : layer->weights()) {
            require(k < f.weights.size(), where, ": architecture/weights mismatch: the file holds ", f.weights.size(),
                    " weights but layer \"", layer->name(), "\" needs weight \"", w->name, "\" (number ", k + 1, ")");
            const auto& sw = f.weights[k++];
            require(sw.layer == layer->name() && sw.name == w->name, where,
                    ": architecture/weights mismatch: expected weight \"", layer->name(), "/", w->name, "\", found \"",
                    sw.layer, "/", sw.name, "\"");
            require(sw.tensor.shape == w->value.shape(), where, ": architecture/weights mismatch: weight \"",
                    sw.layer, "/", sw.name, "\" has shape ", sw.tensor.shape.to_string(), " in the file but the layer ",
                    "needs ", w->value.shape().to_string());
            w->value = model::from_saved<T>(sw.tensor);
        }
    require(k == f.weights.size(), where, ": architecture/weights mismatch: the file holds ", f.weights.size(),
            " weights but the architecture has ", k);

    if (f.optimizer && !loss_cls.empty()) {
        std::vector<MetricArg<T>> metric_args;
        for (const auto& [cls, name] : metric_specs) {
            if (cls == name) {
                metric_args.emplace_back(name);
            } else {
                auto m = metrics::get<T>(cls);
                m->set_name(name);
                metric_args.emplace_back(m);
            }
        }
        model.compile(optimizers::from_config<T>(f.optimizer->class_name,
                                                 saving_detail::parse_config_text(f.optimizer->config)),
                      losses::from_config<T>(loss_cls, loss_cfg), metric_args);
        std::vector<Tensor<T>> slots;
        for (const auto& s : f.optimizer->slots) slots.push_back(model::from_saved<T>(s));
        model.restore_optimizer_state(f.optimizer->iterations, slots, where);
    }
    return model;
}
}  // namespace saving_detail

}  // namespace lumen
