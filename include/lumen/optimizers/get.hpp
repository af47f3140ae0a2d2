// optimizers::get<T>("adam"): an optimizer with Keras' defaults by the names Keras' compile() accepts
// ("sgd", "adam", "adamw", "rmsprop", any case), and optimizers::from_config<T>(name, config): the inverse
// of Optimizer::get_config() (used when loading a model with its optimizer).
#pragma once

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>

#include "lumen/optimizers/Adam.hpp"
#include "lumen/optimizers/AdamW.hpp"
#include "lumen/optimizers/RMSprop.hpp"
#include "lumen/optimizers/SGD.hpp"
#include "lumen/optimizers/optimizer.hpp"
#include "lumen/optimizers/schedules.hpp"

namespace lumen::optimizers {

namespace get_detail {
inline std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}
}  // namespace get_detail

template <class T = float>
inline OptimizerPtr<T> get(const std::string& name) {
    const std::string n = get_detail::lower(name);
    if (n == "sgd") return std::make_shared<SGD<T>>();
    if (n == "adam") return std::make_shared<Adam<T>>();
    if (n == "adamw") return std::make_shared<AdamW<T>>();
    if (n == "rmsprop") return std::make_shared<RMSprop<T>>();
    fail("optimizers::get: unknown optimizer \"", name, "\"; expected sgd, adam, adamw or rmsprop");
}

// Rebuilds an optimizer from name() ("Adam", ...) and get_config(); missing keys take Keras' defaults.
template <class T = float>
inline OptimizerPtr<T> from_config(const std::string& name, const Config& config) {
    auto has = [&](const std::string& key) {
        return std::any_of(config.begin(), config.end(), [&](const auto& kv) { return kv.first == key; });
    };
    auto num = [&](const std::string& key, double fallback) {
        return has(key) ? std::stod(config_value(config, key, name)) : fallback;
    };
    auto flag = [&](const std::string& key) { return has(key) && config_value(config, key, name) == "True"; };
    auto rate = [&](double fallback) -> LearningRate<T> {
        if (!has("learning_rate")) return fallback;
        const std::string& v = config_value(config, "learning_rate", name);
        if (!v.empty() && (std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '.')) return std::stod(v);
        Config sub;
        for (const auto& [k, val] : config)
            if (k.rfind("learning_rate.", 0) == 0) sub.emplace_back(k.substr(14), val);
        return schedules::from_config<T>(v, sub);
    };
    const std::string n = get_detail::lower(name);
    if (n == "sgd")
        return std::make_shared<SGD<T>>(SGDOptions<T>{rate(0.01), num("momentum", 0), flag("nesterov"),
                                                      num("weight_decay", 0), num("clipnorm", 0), num("clipvalue", 0),
                                                      num("global_clipnorm", 0)});
    if (n == "adam")
        return std::make_shared<Adam<T>>(
            AdamOptions<T>{rate(0.001), num("beta_1", 0.9), num("beta_2", 0.999), num("epsilon", 1e-7), flag("amsgrad"),
                           num("weight_decay", 0), num("clipnorm", 0), num("clipvalue", 0), num("global_clipnorm", 0)});
    if (n == "adamw")
        return std::make_shared<AdamW<T>>(AdamWOptions<T>{
            rate(0.001), num("weight_decay", 0.004), num("beta_1", 0.9), num("beta_2", 0.999), num("epsilon", 1e-7),
            flag("amsgrad"), num("clipnorm", 0), num("clipvalue", 0), num("global_clipnorm", 0)});
    if (n == "rmsprop")
        return std::make_shared<RMSprop<T>>(RMSpropOptions<T>{
            rate(0.001), num("rho", 0.9), num("momentum", 0), num("epsilon", 1e-7), flag("centered"),
            num("weight_decay", 0), num("clipnorm", 0), num("clipvalue", 0), num("global_clipnorm", 0)});
    fail("optimizers::from_config: unknown optimizer \"", name, "\"; expected SGD, Adam, AdamW or RMSprop");
}

}  // namespace lumen::optimizers
