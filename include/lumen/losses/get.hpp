// losses::get<T>("binary_crossentropy"): a loss by the string names Keras' compile() accepts, and
// losses::from_config<T>(class_name, config): the inverse of Loss::get_config() (used when loading a model).
#pragma once

#include <memory>
#include <string>

#include "lumen/losses/BinaryCrossentropy.hpp"
#include "lumen/losses/CategoricalCrossentropy.hpp"
#include "lumen/losses/MeanSquaredError.hpp"
#include "lumen/losses/SparseCategoricalCrossentropy.hpp"
#include "lumen/losses/loss.hpp"

namespace lumen::losses {

// Keras' names and aliases: "binary_crossentropy" / "BinaryCrossentropy" / "bce", "categorical_crossentropy" /
// "CategoricalCrossentropy" / "cce", "sparse_categorical_crossentropy" / "SparseCategoricalCrossentropy",
// "mean_squared_error" / "MeanSquaredError" / "mse". Default arguments (from_logits = false), as in Keras.
template <class T = float>
inline LossPtr<T> get(const std::string& name) {
    if (name == "binary_crossentropy" || name == "BinaryCrossentropy" || name == "bce" || name == "BCE")
        return std::make_shared<BinaryCrossentropy<T>>();
    if (name == "categorical_crossentropy" || name == "CategoricalCrossentropy" || name == "cce" || name == "CCE")
        return std::make_shared<CategoricalCrossentropy<T>>();
    if (name == "sparse_categorical_crossentropy" || name == "SparseCategoricalCrossentropy")
        return std::make_shared<SparseCategoricalCrossentropy<T>>();
    if (name == "mean_squared_error" || name == "MeanSquaredError" || name == "mse" || name == "MSE")
        return std::make_shared<MeanSquaredError<T>>();
    fail("losses::get: unknown loss \"", name,
         "\"; expected binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy or "
         "mean_squared_error");
}

// Rebuilds a loss from class_name() and get_config(); missing keys take their defaults.
template <class T = float>
inline LossPtr<T> from_config(const std::string& class_name, const Config& config) {
    auto text = [&](const std::string& key, const std::string& fallback) {
        for (const auto& [k, v] : config)
            if (k == key) return v;
        return fallback;
    };
    const bool logits = parse_bool(text("from_logits", "False"));
    const double ls = std::stod(text("label_smoothing", "0"));
    if (class_name == "BinaryCrossentropy")
        return std::make_shared<BinaryCrossentropy<T>>(
            BinaryCrossentropyOptions{logits, ls, text("name", "binary_crossentropy")});
    if (class_name == "CategoricalCrossentropy")
        return std::make_shared<CategoricalCrossentropy<T>>(
            CategoricalCrossentropyOptions{logits, ls, text("name", "categorical_crossentropy")});
    if (class_name == "SparseCategoricalCrossentropy")
        return std::make_shared<SparseCategoricalCrossentropy<T>>(
            SparseCategoricalCrossentropyOptions{logits, text("name", "sparse_categorical_crossentropy")});
    if (class_name == "MeanSquaredError")
        return std::make_shared<MeanSquaredError<T>>(MeanSquaredErrorOptions{text("name", "mean_squared_error")});
    return get<T>(class_name);  // a plain Keras name, e.g. saved from compile("binary_crossentropy")
}

}  // namespace lumen::losses
