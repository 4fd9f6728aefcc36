// Threads of one test process standing in for the ranks of an MPI job: a communicator whose
// collectives meet at a barrier and add the ranks' buffers in rank order (every rank gets the
// same bits, as MPI gives them), and helpers to run a body on several such ranks.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/communicator.h"
#include "core/log.h"

namespace ca {
namespace testing {

class ThreadGroup {
  public:
    explicit ThreadGroup(int size) : size_(size), buffers_(size_t(size), nullptr) {}
    int size() const { return size_; }
    void share(int rank, void* buffer) { buffers_[size_t(rank)] = buffer; }
    void* shared(int rank) const { return buffers_[size_t(rank)]; }

    // A rank that never arrives (it threw) would hang the others; the test fails instead.
    void wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        const uint64_t generation = generation_;
        if (++arrived_ == size_) {
            arrived_ = 0;
            ++generation_;
            ready_.notify_all();
            return;
        }
        if (!ready_.wait_for(lock, std::chrono::seconds(120),
                             [&] { return generation_ != generation; })) {
            ADD_FAILURE() << "a thread rank did not reach the barrier";
            std::abort();
        }
    }

  private:
    int size_;
    std::vector<void*> buffers_;
    std::mutex mutex_;
    std::condition_variable ready_;
    int arrived_ = 0;
    uint64_t generation_ = 0;
};

class ThreadCommunicator final : public Communicator {
  public:
    ThreadCommunicator(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return group_.size(); }
    void allreduce_sum(double* data, int64_t count) override { sum(data, count); }
    void allreduce_sum(float* data, int64_t count) override { sum(data, count); }
    void allreduce_sum(int64_t* data, int64_t count) override { sum(data, count); }
    void broadcast_from(int root, std::vector<char>& bytes) override {
        if (rank_ == root) group_.share(0, &bytes);
        group_.wait();
        if (rank_ != root) bytes = *static_cast<std::vector<char>*>(group_.shared(0));
        group_.wait();
    }
    void barrier() override { group_.wait(); }
    [[noreturn]] void abort(const std::string& message) override {
        ADD_FAILURE() << "rank " << rank_ << " aborted: " << message;
        std::abort();
    }
    std::string name() const override { return "threads"; }

  private:
    template <typename T>
    void sum(T* data, int64_t count) {
        group_.share(rank_, data);
        group_.wait();
        std::vector<T> total(size_t(count), T(0));
        for (int r = 0; r < size(); ++r) {
            const T* other = static_cast<const T*>(group_.shared(r));
            for (int64_t i = 0; i < count; ++i) total[size_t(i)] += other[i];
        }
        group_.wait();  // every rank has read every buffer before any is overwritten
        std::copy(total.begin(), total.end(), data);
    }

    ThreadGroup& group_;
    int rank_;
};

// Runs body on `ranks` threads, one communicator each, and returns each rank's result.
template <typename Result>
std::vector<Result> run_on_ranks(int ranks, const std::function<Result(Communicator&)>& body) {
    ThreadGroup group(ranks);
    std::vector<std::optional<Result>> results(static_cast<size_t>(ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r) {
        threads.emplace_back([&, r] {
            ThreadCommunicator comm(group, r);
            results[size_t(r)] = body(comm);
        });
    }
    for (auto& thread : threads) thread.join();
    std::vector<Result> out;
    for (auto& result : results) out.push_back(std::move(*result));
    return out;
}

// A rank of a job of any size, for shard arithmetic only.
class ShardOnlyCommunicator final : public Communicator {
  public:
    ShardOnlyCommunicator(int rank, int size) : rank_(rank), size_(size) {}
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void allreduce_sum(double*, int64_t) override {}
    void allreduce_sum(float*, int64_t) override {}
    void allreduce_sum(int64_t*, int64_t) override {}
    void broadcast_from(int, std::vector<char>&) override {}
    void barrier() override {}
    [[noreturn]] void abort(const std::string& message) override { std::abort(); }
    std::string name() const override { return "shard-only"; }

  private:
    int rank_, size_;
};

// The ranks' log lines would interleave; warnings and errors still show.
struct QuietLog {
    LogLevel old = log_level();
    QuietLog() { set_log_level(LogLevel::kWarning); }
    ~QuietLog() { set_log_level(old); }
};

}  // namespace testing
}  // namespace ca
