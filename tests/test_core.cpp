// Tensor, Shape, Error, random streams and the thread knob.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <set>

#include "lumen/core/error.hpp"
#include "lumen/core/random.hpp"
#include "lumen/core/shape.hpp"
#include "lumen/core/tensor.hpp"
#include "lumen/core/threads.hpp"

using namespace lumen;

TEST_CASE("Shape prints like Keras and Python", "[core]") {
    CHECK(Shape{180, 180, 16}.to_keras_string() == "(None, 180, 180, 16)");
    CHECK(Shape{30976}.to_keras_string() == "(None, 30976)");
    CHECK(Shape{7}.to_string() == "(7,)");
    CHECK(Shape{2, 3}.to_string() == "(2, 3)");
    CHECK(Shape{}.to_string() == "()");
    CHECK(Shape{2, 3, 4}.size() == 24);
    CHECK(Shape{2, 3, 4}.dim(-1) == 4);
    CHECK(Shape{3, 4}.with_batch(2) == Shape{2, 3, 4});
    CHECK(Shape{2, 3, 4}.without_batch() == Shape{3, 4});
    CHECK_THROWS_AS(Shape{2}.dim(3), Error);
}

TEST_CASE("Tensor stores NHWC row-major, 64-byte aligned, viewable by Eigen", "[core]") {
    Tensor<float> t(Shape{2, 3, 4, 5});
    CHECK(t.size() == 120);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
    t.at(1, 2, 3, 4) = 7;
    CHECK(t[((1 * 3 + 2) * 4 + 3) * 5 + 4] == 7);
    auto m = t.matrix(2, 60);
    CHECK(m(1, (2 * 4 + 3) * 5 + 4) == 7);
    t.array() += 1;
    CHECK(t.at(1, 2, 3, 4) == 8);
    CHECK(t[0] == 1);
    CHECK(t.matrix().rows() == 24);
    CHECK(t.matrix().cols() == 5);

    const Tensor<float> s = t.slice(1, 2);
    CHECK(s.shape() == Shape{1, 3, 4, 5});
    CHECK(s.at(0, 2, 3, 4) == 8);
    CHECK(t.reshaped(Shape{2, 60}).shape() == Shape{2, 60});
    CHECK(t.cast<double>().at(1, 2, 3, 4) == 8.0);
}

TEST_CASE("Tensor refuses bad shapes and views with a message", "[core]") {
    Tensor<float> t(Shape{2, 3});
    CHECK_THROWS_WITH(t.reshape(Shape{4, 2}), Catch::Contains("(2, 3)") && Catch::Contains("(4, 2)"));
    CHECK_THROWS_AS(t.matrix(4, 4), Error);
    CHECK_THROWS_AS(t.slice(1, 3), Error);
    CHECK_THROWS_AS(Tensor<float>(Shape{2, -1}), Error);
    CHECK_THROWS_WITH(Tensor<float>(Shape{1 << 20, 1 << 20, 1 << 10}), Catch::Contains("refusing to allocate"));
    CHECK_THROWS_AS(Tensor<float>(Shape{2}, std::vector<float>{1, 2, 3}), Error);
}

TEST_CASE("TensorBudget refuses tensors beyond it before allocating; nested budgets never loosen", "[core][limits]") {
    {
        const TensorBudget outer(100, "the outer budget");
        Tensor<float> a(Shape{10, 6});  // 60 of 100
        CHECK_THROWS_WITH(Tensor<float>(Shape{50}), Catch::Contains("(50,)") && Catch::Contains("the outer budget") &&
                                                        Catch::Contains("40 elements left"));
        {
            const TensorBudget inner(1000, "the inner budget");
            CHECK_THROWS_WITH(Tensor<float>(Shape{41}), Catch::Contains("the outer budget"));  // inner has room
            Tensor<float> b(Shape{40});                                                          // both charged
            CHECK_THROWS_WITH(Tensor<float>(Shape{1}), Catch::Contains("the outer budget"));
        }
        Tensor<float> c;
        CHECK_THROWS_WITH(c.resize(Shape{1}), Catch::Contains("refusing to allocate"));  // resize is charged too
    }
    CHECK_NOTHROW(Tensor<float>(Shape{1000, 1000}));  // no budget once the scope ends
}

TEST_CASE("Large tensor blocks come back from the cache, zero-filled when asked, within its limit", "[core]") {
    const Shape big{2, 1024, 1024};  // 8 MiB: a cached size
    using Alloc = AlignedAllocator<float>;
    const std::size_t bytes = Alloc::cached_block(std::size_t(big.size())).first;  // its block, colour steps included
    constexpr std::uintptr_t huge_page = std::uintptr_t{1} << 21;
    // A coloured tensor starts 1 to 31 colour steps into its 2 MiB-aligned block (less than 2 MiB in all).
    auto block_of = [](const float* p) {
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        return detail::kBlockCacheEnabled ? a / huge_page * huge_page : a;
    };
    auto colour_of = [](const float* p) { return reinterpret_cast<std::uintptr_t>(p) % huge_page / Alloc::kColourStep; };
    const float* freed = nullptr;
    {
        Tensor<float> a(big, 7.0f);
        freed = a.data();
    }
    Tensor<float> b(big);
    CHECK(std::all_of(b.begin(), b.end(), [](float v) { return v == 0.0f; }));
    CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0);
    if (detail::kBlockCacheEnabled) {
        CHECK(block_of(b.data()) == block_of(freed));  // the same block, without new pages
        CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % huge_page % Alloc::kColourStep == 0);
        CHECK(colour_of(b.data()) >= 1);
        CHECK(colour_of(b.data()) <= Alloc::kColours);
        CHECK(b.data() != freed);  // the next colour: two large tensors never start at the same offset in turn
        const float* mid = Tensor<float>(Shape{512, 512}).data();  // 1 MiB: cached too, not coloured
        CHECK(Tensor<float>(Shape{512, 512}, uninitialized).data() == mid);
        set_tensor_cache_limit(std::size_t{1} << 30);
        // A 64-byte-aligned block of 4 MiB (4 MiB - 4 bytes asked, rounded up to whole 4 KiB pages) is never
        // handed to a 4 MiB tensor, which gets a 2 MiB-aligned block.
        { Tensor<float> almost(Shape{(index_t{1} << 20) - 1}); }
        const Tensor<float> huge(Shape{index_t{1} << 20}, uninitialized);
        CHECK(reinterpret_cast<std::uintptr_t>(huge.data()) % huge_page % Alloc::kColourStep == 0);
        CHECK(colour_of(huge.data()) >= 1);
        // Over the limit, the oldest block goes first.
        set_tensor_cache_limit(bytes + bytes / 2);
        Tensor<float> c(big);
        const float* newer = c.data();
        b = Tensor<float>();
        c = Tensor<float>();  // b's block was freed to make room for c's
        CHECK(detail::large_block_cache().cached_bytes() == bytes);
        CHECK(block_of(Tensor<float>(big, uninitialized).data()) == block_of(newer));
    } else {
        SUCCEED("the block cache is off under AddressSanitizer");
    }
    set_tensor_cache_limit(0);  // frees everything, caches nothing
    { Tensor<float> d(big); }
    CHECK(detail::large_block_cache().cached_bytes() == 0);
    set_tensor_cache_limit(std::size_t{1} << 30);
}

TEST_CASE("Random streams are reproducible and independent", "[core]") {
    Generator a(42), b(42), c(43);
    bool all_equal = true, any_differs = false;
    for (int i = 0; i < 100; ++i) {
        const auto va = a(), vb = b(), vc = c();
        all_equal = all_equal && va == vb;
        any_differs = any_differs || va != vc;
    }
    CHECK(all_equal);
    CHECK(any_differs);

    RandomStreams streams(5, 2);
    CHECK(streams[0]() != streams[1]());

    Generator g(1);
    double sum = 0, sum_sq = 0, lo = 1, hi = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        const double u = g.uniform();
        lo = std::min(lo, u);
        hi = std::max(hi, u);
        const double z = g.normal();
        sum += z;
        sum_sq += z * z;
    }
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    CHECK(std::abs(sum / n) < 0.01);
    CHECK(std::abs(sum_sq / n - 1.0) < 0.02);
    for (int i = 0; i < 1000; ++i) CHECK(std::abs(g.truncated_normal(0, 1)) <= 2.0);

    std::vector<int> v{0, 1, 2, 3, 4, 5, 6, 7};
    g.shuffle(v.begin(), v.end());
    CHECK(std::set<int>(v.begin(), v.end()).size() == 8);
}

TEST_CASE("set_num_threads is honoured and validated", "[core]") {
    const int before = num_threads();
    set_num_threads(1);
    CHECK(num_threads() == 1);
    CHECK(Eigen::nbThreads() == 1);
    set_num_threads(2);
    CHECK(num_threads() == 2);
    CHECK(Eigen::nbThreads() == 2);
    CHECK_THROWS_WITH(set_num_threads(0), Catch::Contains("n must be >= 1"));
    set_num_threads(before);
}
