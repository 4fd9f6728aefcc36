// The NCCL communicator: one GPU per MPI rank, sums of host arrays staged through the device
// and sums of device buffers in place, with MPI for the unique id, broadcasts and barriers.
// Built only where CMake found CUDA, NCCL and MPI (CA_WITH_NCCL); core/ reaches it through
// core/nccl_factory.h.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/communicator.h"
#include "core/mpi_communicator.h"
#include "kernels/cuda/device_buffer.cuh"

struct ncclComm;  // nccl.h's opaque communicator; only the .cpp includes nccl.h

namespace ca {

// Settings of one NCCL communicator.
struct NcclParams {
    /// Most bytes a host-array sum stages on the device at once; longer arrays go in pieces.
    int64_t max_stage_bytes = int64_t(64) << 20;
};

class NcclCommunicator final : public Communicator {
  public:
    /// Initialises MPI if needed, then on every rank: picks device local_rank % device count
    /// (local rank from launcher_local_rank(), else MPI's shared-memory split) and makes it
    /// current for the calling thread, takes NCCL's unique id from rank 0 over MPI, and joins
    /// the NCCL communicator. Collective: every rank of MPI_COMM_WORLD must construct one.
    /// A rank without a device, or any failed step, throws ConfigError on every rank (each
    /// prefixed "where: rank R: "), so no rank is left waiting for the others.
    explicit NcclCommunicator(const std::string& where, const NcclParams& params = NcclParams());
    /// Finalises and destroys the NCCL communicator (collective), or aborts it (local) when
    /// destroyed during stack unwinding; MPI is finalised later, at process exit.
    ~NcclCommunicator() override;
    NcclCommunicator(const NcclCommunicator&) = delete;
    NcclCommunicator& operator=(const NcclCommunicator&) = delete;

    int rank() const override { return mpi_.rank(); }
    int size() const override { return mpi_.size(); }
    /// Host arrays: copied to the device in pieces of at most max_stage_bytes, summed with
    /// ncclAllReduce (ncclSum; int64 as ncclInt64) and copied back; returns when done.
    void allreduce_sum(double* data, int64_t count) override;
    void allreduce_sum(float* data, int64_t count) override;
    void allreduce_sum(int64_t* data, int64_t count) override;
    /// Device arrays on device(): summed in place, enqueued on stream() without waiting. The
    /// caller orders its own work with stream() (enqueue on it, or synchronise) before reading
    /// the sums or writing data again.
    void allreduce_sum_device(float* data, int64_t count);
    void allreduce_sum_device(double* data, int64_t count);
    /// Waits for everything enqueued on stream().
    void synchronize();
    /// Host bytes over MPI.
    void broadcast_from(int root, std::vector<char>& bytes) override {
        mpi_.broadcast_from(root, bytes);
    }
    void barrier() override { mpi_.barrier(); }
    /// MPI_Abort: the launcher ends every rank, including ranks waiting inside NCCL.
    [[noreturn]] void abort(const std::string& message) override { mpi_.abort(message); }
    std::string name() const override { return "nccl"; }

    /// The CUDA device ordinal this rank uses (current on the constructing thread).
    int device() const { return device_; }
    /// The stream every NCCL call of this communicator is enqueued on.
    cudaStream_t stream() const { return stream_; }

  private:
    void select_device(const std::string& where);
    void join(const std::string& where);
    void agree(const std::string& problem, const std::string& where);
    void release(bool abort) noexcept;
    template <typename T>
    void sum_host(T* data, int64_t count, int type);
    void sum_device(void* data, int64_t count, int type);
    [[noreturn]] void fail(const std::string& call, const std::string& error) const;

    // Declared first, so MPI outlives the NCCL communicator (members are destroyed last).
    MpiCommunicator mpi_;
    int64_t max_stage_bytes_;
    int device_ = -1;
    cudaStream_t stream_ = nullptr;
    ncclComm* comm_ = nullptr;
    DeviceBuffer staging_;
};

/// A new NcclCommunicator with default params; core/nccl_factory.cpp forwards to it.
std::unique_ptr<Communicator> make_built_nccl_communicator(const std::string& where);

}  // namespace ca
