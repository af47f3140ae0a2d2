// Prefetcher — computes the next batches in worker threads while the model trains on the current one.
//
// A batch is a pure function of (epoch, index): the dataset derives every random draw from its seed, the epoch
// and the batch index, never from which thread runs it or when. So prefetching changes only *when* a batch is
// built, never *what* it holds: results are identical for any worker count, including 0 (no threads).
// get(epoch, i) returns batch i, waiting for it if a worker is building it, and keeps up to `depth` of the
// following batches of the same epoch in flight (at most `workers` at a time).
#pragma once

#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <utility>

#include "lumen/core/shape.hpp"

namespace lumen::data {

template <class Batch>
class Prefetcher {
public:
    using Make = std::function<Batch(index_t epoch, index_t index)>;
    Prefetcher(Make make, int workers, int depth) : make_(std::move(make)), workers_(workers), depth_(depth) {}
    ~Prefetcher() { drain(); }
    Prefetcher(const Prefetcher&) = delete;
    Prefetcher& operator=(const Prefetcher&) = delete;

    Batch get(index_t epoch, index_t index, index_t num_batches) {
        std::future<Batch> mine;
        {
            std::lock_guard lock(mutex_);
            // Drop work for other epochs or batches already passed (their results are simply not used).
            for (auto it = pending_.begin(); it != pending_.end();) {
                if (it->first.first != epoch || it->first.second < index) {
                    it->second.wait();
                    it = pending_.erase(it);
                } else {
                    ++it;
                }
            }
            auto it = pending_.find({epoch, index});
            if (it != pending_.end()) {
                mine = std::move(it->second);
                pending_.erase(it);
            }
            if (workers_ > 0)
                for (index_t j = index + 1; j < num_batches && j <= index + depth_ && int(pending_.size()) < workers_; ++j)
                    if (!pending_.count({epoch, j}))
                        pending_.emplace(std::make_pair(epoch, j),
                                         std::async(std::launch::async, [this, epoch, j] { return make_(epoch, j); }));
        }
        if (mine.valid()) return mine.get();  // rethrows a worker's Error here, on the caller's thread
        return make_(epoch, index);
    }

    // Waits for every batch in flight (called before the dataset's state changes or it is destroyed).
    void drain() {
        std::lock_guard lock(mutex_);
        for (auto& [key, f] : pending_) f.wait();
        pending_.clear();
    }

private:
    Make make_;
    int workers_;
    int depth_;
    std::mutex mutex_;
    std::map<std::pair<index_t, index_t>, std::future<Batch>> pending_;
};

}  // namespace lumen::data
