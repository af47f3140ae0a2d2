// NumpyRandomState — numpy's legacy RandomState (MT19937) draws, bit for bit, for the parts of Keras' data
// pipeline that seed numpy: image_dataset_from_directory's global file shuffle (RandomState(seed).shuffle) and
// the Iterator's per-batch np.random.seed(seed + total_batches_seen) that drives the permutation and every
// ImageDataGenerator augmentation. With it, the same seed selects the same validation files and the same
// random transform parameters as Keras.
//   seed(s)           init_genrand(s) — what RandomState(s) / np.random.seed(s) do for 0 <= s < 2^32
//   random_sample()   (a >> 5, b >> 6) -> 53-bit double in [0, 1)
//   interval(max)     masked rejection sampling of a uint32 in [0, max] (numpy's random_interval)
//   shuffle           Fisher-Yates from the end, j = interval(i) (RandomState.shuffle, permutation)
#pragma once

#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "lumen/core/shape.hpp"

namespace lumen::data {

class NumpyRandomState {
public:
    explicit NumpyRandomState(std::uint32_t seed = 0) : mt_(seed) {}
    void seed(std::uint32_t s) { mt_.seed(s); }  // std::mt19937's seeding is MT19937's init_genrand

    std::uint32_t next_uint32() { return static_cast<std::uint32_t>(mt_()); }
    double random_sample() {
        const std::uint32_t a = next_uint32() >> 5, b = next_uint32() >> 6;
        return (double(a) * 67108864.0 + double(b)) / 9007199254740992.0;
    }
    double uniform(double lo, double hi) { return lo + (hi - lo) * random_sample(); }
    // Uniform integer in [0, max], max < 2^32.
    std::uint32_t interval(std::uint32_t max) {
        if (max == 0) return 0;
        std::uint32_t mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        std::uint32_t v;
        while ((v = next_uint32() & mask) > max) {
        }
        return v;
    }
    // np.random.randint(0, n) / np.random.choice(n): uniform in [0, n).
    index_t randint(index_t n) { return n <= 1 ? 0 : index_t(interval(std::uint32_t(n - 1))); }

    template <class It>
    void shuffle(It first, It last) {
        const auto n = last - first;
        for (auto i = n - 1; i > 0; --i) std::swap(first[i], first[interval(std::uint32_t(i))]);
    }
    std::vector<index_t> permutation(index_t n) {
        std::vector<index_t> p(static_cast<std::size_t>(n));
        std::iota(p.begin(), p.end(), index_t{0});
        shuffle(p.begin(), p.end());
        return p;
    }

private:
    std::mt19937 mt_;
};

namespace detail {
// A seed for when the user gives none (Keras draws np.random.randint(1e6)).
inline std::uint32_t random_seed() { return std::random_device{}() % 1000000u; }
}  // namespace detail

}  // namespace lumen::data
