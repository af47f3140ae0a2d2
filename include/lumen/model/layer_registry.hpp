// Keras class name -> the layer's from_config(), for every layer of the library (used by load_model).
//
//   auto layer = model::layer_from_config<float>("Conv2D", config);
// An unknown class name gives an Error listing the known ones (a file from a newer lumen, or a custom layer).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "lumen/core/error.hpp"
#include "lumen/layers/Activation.hpp"
#include "lumen/layers/AveragePooling2D.hpp"
#include "lumen/layers/BatchNormalization.hpp"
#include "lumen/layers/Conv2D.hpp"
#include "lumen/layers/Dense.hpp"
#include "lumen/layers/Dropout.hpp"
#include "lumen/layers/Flatten.hpp"
#include "lumen/layers/GlobalAveragePooling2D.hpp"
#include "lumen/layers/GlobalMaxPooling2D.hpp"
#include "lumen/layers/Input.hpp"
#include "lumen/layers/MaxPooling2D.hpp"
#include "lumen/layers/RandomBrightness.hpp"
#include "lumen/layers/RandomContrast.hpp"
#include "lumen/layers/RandomFlip.hpp"
#include "lumen/layers/RandomRotation.hpp"
#include "lumen/layers/RandomTranslation.hpp"
#include "lumen/layers/RandomZoom.hpp"
#include "lumen/layers/Rescaling.hpp"
#include "lumen/layers/Resizing.hpp"
#include "lumen/layers/ZeroPadding2D.hpp"
#include "lumen/layers/layer.hpp"

namespace lumen::model {

template <class T = float>
using LayerFactory = std::shared_ptr<layers::Layer<T>> (*)(const Config&);

// The immutable table of built-in layers.
template <class T = float>
inline const std::map<std::string, LayerFactory<T>>& layer_registry() {
    static const std::map<std::string, LayerFactory<T>> table{
        {"Activation", &layers::Activation<T>::from_config},
        {"AveragePooling2D", &layers::AveragePooling2D<T>::from_config},
        {"BatchNormalization", &layers::BatchNormalization<T>::from_config},
        {"Conv2D", &layers::Conv2D<T>::from_config},
        {"Dense", &layers::Dense<T>::from_config},
        {"Dropout", &layers::Dropout<T>::from_config},
        {"Flatten", &layers::Flatten<T>::from_config},
        {"GlobalAveragePooling2D", &layers::GlobalAveragePooling2D<T>::from_config},
        {"GlobalMaxPooling2D", &layers::GlobalMaxPooling2D<T>::from_config},
        {"InputLayer", &layers::Input<T>::from_config},
        {"MaxPooling2D", &layers::MaxPooling2D<T>::from_config},
        {"RandomBrightness", &layers::RandomBrightness<T>::from_config},
        {"RandomContrast", &layers::RandomContrast<T>::from_config},
        {"RandomFlip", &layers::RandomFlip<T>::from_config},
        {"RandomRotation", &layers::RandomRotation<T>::from_config},
        {"RandomTranslation", &layers::RandomTranslation<T>::from_config},
        {"RandomZoom", &layers::RandomZoom<T>::from_config},
        {"Rescaling", &layers::Rescaling<T>::from_config},
        {"Resizing", &layers::Resizing<T>::from_config},
        {"ZeroPadding2D", &layers::ZeroPadding2D<T>::from_config},
    };
    return table;
}

template <class T = float>
inline std::shared_ptr<layers::Layer<T>> layer_from_config(const std::string& class_name, const Config& config) {
    const auto& table = layer_registry<T>();
    const auto it = table.find(class_name);
    if (it == table.end()) {
        std::string known;
        for (const auto& [k, f] : table) known += (known.empty() ? "" : ", ") + k;
        fail("layer_from_config: unknown layer class \"", class_name, "\"; lumen knows ", known);
    }
    return it->second(config);
}

}  // namespace lumen::model
