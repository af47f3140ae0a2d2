#include <lumen/lumen.hpp>

int lumen_odr_b_shape_rank() { return lumen::Shape{1, 2, 3, 4}.rank(); }
