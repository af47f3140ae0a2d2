// Two translation units that include the whole library: a non-inline definition in any header would be
// defined twice and fail the link.
#include <lumen/lumen.hpp>

#include <catch2/catch.hpp>

int lumen_odr_b_shape_rank();

TEST_CASE("odr: lumen.hpp links into two translation units", "[odr]") {
    lumen::Tensor<float> t(lumen::Shape{2, 3});
    CHECK(t.size() == 6);
    CHECK(lumen_odr_b_shape_rank() == 4);
}
