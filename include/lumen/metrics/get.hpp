// metrics::get<T>(name, y_true_shape, y_pred_shape): a metric by the string names Keras' compile() accepts.
//
// "accuracy" / "acc" resolve by shapes exactly as Keras' compile_utils does (spec §7.2), and keep the user's
// string as the metric's name (the history key):
//   y_pred last dim 1 (or y_pred rank 1)                     -> BinaryAccuracy (y_pred > 0.5 vs y_true)
//   y_true rank < y_pred rank, or y_true last dim 1 while
//   y_pred last dim > 1                                      -> SparseCategoricalAccuracy (argmax vs label)
//   otherwise                                                -> CategoricalAccuracy (argmax vs argmax)
// Pass both shapes with their batch axis (or both without): only ranks and last dims are compared.
// Other names: binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
// sparse_top_k_categorical_accuracy, precision, recall (and Keras' class names, which take the default name).
#pragma once

#include <memory>
#include <string>

#include "lumen/metrics/BinaryAccuracy.hpp"
#include "lumen/metrics/CategoricalAccuracy.hpp"
#include "lumen/metrics/Metric.hpp"
#include "lumen/metrics/Precision.hpp"
#include "lumen/metrics/Recall.hpp"
#include "lumen/metrics/SparseCategoricalAccuracy.hpp"
#include "lumen/metrics/SparseTopKCategoricalAccuracy.hpp"
#include "lumen/metrics/TopKCategoricalAccuracy.hpp"

namespace lumen::metrics {

// Which accuracy Keras picks for "accuracy" given the shapes: "binary_accuracy", "sparse_categorical_accuracy"
// or "categorical_accuracy".
inline std::string resolve_accuracy(const Shape& y_true_shape, const Shape& y_pred_shape) {
    require(y_pred_shape.rank() >= 1, "metrics: cannot resolve \"accuracy\" for a rank-0 y_pred");
    const index_t pred_last = y_pred_shape.dim(-1);
    const index_t true_last = y_true_shape.rank() ? y_true_shape.dim(-1) : 1;
    if (pred_last == 1 || y_pred_shape.rank() == 1) return "binary_accuracy";
    if (y_true_shape.rank() < y_pred_shape.rank() || (true_last == 1 && pred_last > 1))
        return "sparse_categorical_accuracy";
    return "categorical_accuracy";
}

template <class T = float>
inline MetricPtr<T> get(const std::string& name, const Shape& y_true_shape, const Shape& y_pred_shape) {
    if (name == "accuracy" || name == "acc") {
        MetricPtr<T> m = get<T>(resolve_accuracy(y_true_shape, y_pred_shape), y_true_shape, y_pred_shape);
        m->set_name(name);
        return m;
    }
    if (name == "binary_accuracy") return std::make_shared<BinaryAccuracy<T>>();
    if (name == "categorical_accuracy") return std::make_shared<CategoricalAccuracy<T>>();
    if (name == "sparse_categorical_accuracy") return std::make_shared<SparseCategoricalAccuracy<T>>();
    if (name == "top_k_categorical_accuracy") return std::make_shared<TopKCategoricalAccuracy<T>>();
    if (name == "sparse_top_k_categorical_accuracy") return std::make_shared<SparseTopKCategoricalAccuracy<T>>();
    if (name == "precision" || name == "Precision") return std::make_shared<Precision<T>>();
    if (name == "recall" || name == "Recall") return std::make_shared<Recall<T>>();
    if (name == "BinaryAccuracy") return std::make_shared<BinaryAccuracy<T>>();
    if (name == "CategoricalAccuracy") return std::make_shared<CategoricalAccuracy<T>>();
    if (name == "SparseCategoricalAccuracy") return std::make_shared<SparseCategoricalAccuracy<T>>();
    if (name == "TopKCategoricalAccuracy") return std::make_shared<TopKCategoricalAccuracy<T>>();
    if (name == "SparseTopKCategoricalAccuracy") return std::make_shared<SparseTopKCategoricalAccuracy<T>>();
    fail("metrics::get: unknown metric \"", name,
         "\"; expected accuracy, acc, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, "
         "top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, precision or recall");
}

// For names that do not depend on shapes (everything but "accuracy" / "acc").
template <class T = float>
inline MetricPtr<T> get(const std::string& name) {
    require(name != "accuracy" && name != "acc", "metrics::get: \"", name,
            "\" depends on the shapes of y_true and y_pred; call get(name, y_true_shape, y_pred_shape)");
    return get<T>(name, Shape{}, Shape{});
}

}  // namespace lumen::metrics
