// The one thread-count knob.
//
// set_num_threads(n) is honoured by every OpenMP loop in lumen (they all pass num_threads(num_threads()))
// and by Eigen's own GEMM parallelism. Results are deterministic for a given seed and thread count.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "lumen/core/error.hpp"

namespace lumen {

namespace detail {
inline int default_num_threads() {
#ifdef _OPENMP
    return std::max(1, omp_get_max_threads());
#else
    return std::max(1u, std::thread::hardware_concurrency());
#endif
}
inline std::atomic<int>& thread_count() {
    static std::atomic<int> count{default_num_threads()};
    return count;
}
}  // namespace detail

// The number of threads lumen's parallel loops use.
inline int num_threads() { return detail::thread_count().load(std::memory_order_relaxed); }

// Sets the number of threads for every parallel loop in lumen and for Eigen. n >= 1.
inline void set_num_threads(int n) {
    require(n >= 1, "set_num_threads: n must be >= 1, got ", n);
    detail::thread_count().store(n, std::memory_order_relaxed);
    Eigen::setNbThreads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

// The index of the calling thread inside a lumen parallel loop (0 outside one).
inline int thread_index() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

}  // namespace lumen
