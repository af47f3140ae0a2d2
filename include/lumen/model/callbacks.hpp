// Every callback of lumen::callbacks (Keras' keras.callbacks), one header each under model/callbacks/.
#pragma once

#include "lumen/model/callbacks/CSVLogger.hpp"
#include "lumen/model/callbacks/Callback.hpp"
#include "lumen/model/callbacks/EarlyStopping.hpp"
#include "lumen/model/callbacks/LambdaCallback.hpp"
#include "lumen/model/callbacks/LearningRateScheduler.hpp"
#include "lumen/model/callbacks/ModelCheckpoint.hpp"
#include "lumen/model/callbacks/ReduceLROnPlateau.hpp"
#include "lumen/model/callbacks/TerminateOnNaN.hpp"
