// Seeded random streams.
//
// Every random draw in lumen (initialisers, dropout masks, shuffling, augmentation) comes from a
// Generator, and every Generator is derived from one user seed plus a stream id, so the same seed (and the
// same thread count) gives the same run. Parallel code gives each thread its own stream:
//   RandomStreams streams(seed);  ...  Generator& g = streams[omp_get_thread_num()];
// The generator is SplitMix64 (for seeding) feeding xoshiro256**: small, fast and statistically sound.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace lumen {

inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Mixes a seed and a stream id into a new seed: derive_seed(seed, 3) names stream 3 of `seed`.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (stream + 1));
    splitmix64(s);
    return splitmix64(s);
}

class Generator {
public:
    using result_type = std::uint64_t;
    explicit Generator(std::uint64_t seed = 0) { this->seed(seed); }

    void seed(std::uint64_t seed) {
        std::uint64_t s = seed;
        for (auto& word : state_) word = splitmix64(s);
    }

    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
    result_type operator()() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
    // Uniform in [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Uniform integer in [0, n), without modulo bias worth caring about for n < 2^32.
    std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)); }
    // Standard normal (Box-Muller; the second value is discarded to keep streams simple to reason about).
    double normal() {
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
    }
    double normal(double mean, double stddev) { return mean + stddev * normal(); }
    // Keras' truncated normal: draws beyond two standard deviations are drawn again.
    double truncated_normal(double mean, double stddev) {
        for (;;) {
            const double z = normal();
            if (std::abs(z) <= 2.0) return mean + stddev * z;
        }
    }

    // Fisher-Yates shuffle of any random-access range.
    template <class It>
    void shuffle(It first, It last) {
        const auto n = last - first;
        for (auto i = n - 1; i > 0; --i) {
            const auto j = static_cast<decltype(i)>(below(static_cast<std::uint64_t>(i) + 1));
            std::swap(first[i], first[j]);
        }
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<std::uint64_t, 4> state_{};
};

// One Generator per thread, all derived from one seed.
class RandomStreams {
public:
    explicit RandomStreams(std::uint64_t seed = 0, int count = 1) { reseed(seed, count); }
    void reseed(std::uint64_t seed, int count) {
        streams_.clear();
        for (int i = 0; i < count; ++i) streams_.emplace_back(derive_seed(seed, static_cast<std::uint64_t>(i)));
    }
    [[nodiscard]] int size() const { return static_cast<int>(streams_.size()); }
    Generator& operator[](int i) { return streams_[static_cast<std::size_t>(i)]; }

private:
    std::vector<Generator> streams_;
};

}  // namespace lumen
