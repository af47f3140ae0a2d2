// lumen: header-only deep learning for image classification, with Keras semantics.
// Include this one header; it includes the public headers and nothing else.
#pragma once

#include "lumen/core/error.hpp"
#include "lumen/core/random.hpp"
#include "lumen/core/shape.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"
#include "lumen/kernels/activations.hpp"
#include "lumen/layers/initializers.hpp"
#include "lumen/layers/layer.hpp"
#include "lumen/data/dataset.hpp"
#include "lumen/losses/loss.hpp"
#include "lumen/optimizers/optimizer.hpp"
