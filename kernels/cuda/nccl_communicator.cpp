// The NCCL communicator: device choice and unique id over MPI, staged host sums, in-place device
// sums on the communicator's stream, and a stream wait that notices NCCL's asynchronous errors.
#include "kernels/cuda/nccl_communicator.h"

#include <mpi.h>
#include <nccl.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>

#include "core/errors.h"
#include "core/nccl_factory.h"
#include "kernels/cuda/cuda_check.cuh"

namespace ca {

namespace {

// This process's rank among the ranks sharing its node's memory (in world-rank order), or -1.
// Collective over MPI_COMM_WORLD.
int shared_memory_local_rank() {
    MPI_Comm node = MPI_COMM_NULL;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) !=
        MPI_SUCCESS)
        return -1;
    int local = -1;
    if (MPI_Comm_rank(node, &local) != MPI_SUCCESS) local = -1;
    MPI_Comm_free(&node);
    return local;
}

std::string nccl_error_text(ncclResult_t status, ncclComm_t comm) {
    std::string text = ncclGetErrorString(status);
    const char* detail = ncclGetLastError(comm);
    if (detail && *detail) text += " (" + std::string(detail) + ")";
    return text;
}

std::string cuda_error_text(cudaError_t status) {
    cudaGetLastError();  // clear it, so later runtime calls do not report it again
    return cudaGetErrorString(status);
}

}  // namespace

NcclCommunicator::NcclCommunicator(const std::string& where, const NcclParams& params)
    : max_stage_bytes_(std::max<int64_t>(params.max_stage_bytes, 8)) {
    try {
        select_device(where);
        join(where);
    } catch (...) {
        release(true);
        throw;
    }
}

NcclCommunicator::~NcclCommunicator() { release(std::uncaught_exceptions() > 0); }

// Every rank takes part in the shared-memory split, so the collective matches on all ranks
// whether or not their launcher names the local rank.
void NcclCommunicator::select_device(const std::string& where) {
    const int split = shared_memory_local_rank();
    const int local = launcher_local_rank() >= 0 ? launcher_local_rank() : split;
    int count = 0;
    std::string problem;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess || count == 0) {
        problem =
            "\"nccl\" needs one CUDA device per rank, but none is visible "
            "(cudaGetDeviceCount: " +
            (status != cudaSuccess ? cuda_error_text(status) : std::string("0 devices")) + ")";
    } else if (local < 0) {
        problem =
            "the node-local rank is unknown (no OMPI_COMM_WORLD_LOCAL_RANK or "
            "SLURM_LOCALID, and MPI's shared-memory split failed)";
    } else {
        device_ = local % count;
        const cudaError_t set = cudaSetDevice(device_);
        if (set != cudaSuccess)
            problem = "cudaSetDevice(" + std::to_string(device_) + ") for local rank " +
                      std::to_string(local) + " failed: " + cuda_error_text(set);
    }
    agree(problem, where);
}

void NcclCommunicator::join(const std::string& where) {
    ncclUniqueId id;
    std::memset(&id, 0, sizeof(id));
    std::string problem;
    if (rank() == 0) {
        const ncclResult_t status = ncclGetUniqueId(&id);
        if (status != ncclSuccess)
            problem = "ncclGetUniqueId failed: " + nccl_error_text(status, nullptr);
    }
    agree(problem, where);
    std::vector<char> bytes(reinterpret_cast<const char*>(&id),
                            reinterpret_cast<const char*>(&id) + sizeof(id));
    mpi_.broadcast(bytes);
    CA_ASSERT_MSG(bytes.size() == sizeof(id), "rank 0 sent " << bytes.size() << " id bytes");
    std::memcpy(&id, bytes.data(), sizeof(id));

    const cudaError_t made = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
    if (made != cudaSuccess) {
        stream_ = nullptr;
        problem = "cudaStreamCreateWithFlags failed: " + cuda_error_text(made);
    }
    agree(problem, where);

    ncclComm_t comm = nullptr;
    const ncclResult_t status = ncclCommInitRank(&comm, size(), id, rank());
    if (status == ncclSuccess) {
        comm_ = comm;
    } else {
        problem = "ncclCommInitRank on device " + std::to_string(device_) +
                  " failed: " + nccl_error_text(status, nullptr) + " (each rank needs its own GPU)";
    }
    agree(problem, where);
}

// A step that failed on some ranks fails on all of them, so none waits in the next collective.
void NcclCommunicator::agree(const std::string& problem, const std::string& where) {
    int64_t failed = problem.empty() ? 0 : 1;
    mpi_.allreduce_sum(&failed, 1);
    if (failed == 0) return;
    const std::string prefix = where + ": rank " + std::to_string(rank()) + ": ";
    if (!problem.empty()) throw ConfigError(prefix + problem);
    throw ConfigError(prefix + "NCCL setup stopped because " + std::to_string(failed) +
                      " other rank(s) failed (their errors say why)");
}

// Finalise and destroy wait for the other ranks; abort returns at once, for error paths where
// the other ranks may never get here.
void NcclCommunicator::release(bool abort) noexcept {
    if (comm_) {
        if (abort) {
            ncclCommAbort(comm_);
        } else {
            ncclCommFinalize(comm_);
            ncclCommDestroy(comm_);
        }
        comm_ = nullptr;
    }
    if (stream_) cudaStreamDestroy(stream_);
    stream_ = nullptr;
}

void NcclCommunicator::fail(const std::string& call, const std::string& error) const {
    throw CudaError("NCCL communicator, rank " + std::to_string(rank()) + " (device " +
                    std::to_string(device_) + "): " + call + " failed: " + error);
}

template <typename T>
void NcclCommunicator::sum_host(T* data, int64_t count, int type) {
    if (count <= 0) return;
    const cudaError_t set = cudaSetDevice(device_);
    if (set != cudaSuccess) fail("cudaSetDevice", cuda_error_text(set));
    const int64_t piece = std::max<int64_t>(1, max_stage_bytes_ / int64_t(sizeof(T)));
    T* stage = nullptr;
    try {
        stage = staging_.reserve<T>(size_t(std::min(piece, count)));
    } catch (const CudaError& error) {
        fail("staging buffer allocation", error.what());
    }
    for (int64_t start = 0; start < count; start += piece) {
        const size_t bytes = size_t(std::min(piece, count - start)) * sizeof(T);
        cudaError_t status =
            cudaMemcpyAsync(stage, data + start, bytes, cudaMemcpyHostToDevice, stream_);
        if (status != cudaSuccess) fail("cudaMemcpyAsync to the device", cuda_error_text(status));
        sum_device(stage, int64_t(bytes / sizeof(T)), type);
        status = cudaMemcpyAsync(data + start, stage, bytes, cudaMemcpyDeviceToHost, stream_);
        if (status != cudaSuccess) fail("cudaMemcpyAsync to the host", cuda_error_text(status));
    }
    synchronize();
}

void NcclCommunicator::sum_device(void* data, int64_t count, int type) {
    if (count <= 0) return;
    const ncclResult_t status =
        ncclAllReduce(data, data, size_t(count), ncclDataType_t(type), ncclSum, comm_, stream_);
    if (status != ncclSuccess) fail("ncclAllReduce", nccl_error_text(status, comm_));
}

void NcclCommunicator::allreduce_sum(double* data, int64_t count) {
    sum_host(data, count, ncclFloat64);
}

void NcclCommunicator::allreduce_sum(float* data, int64_t count) {
    sum_host(data, count, ncclFloat32);
}

void NcclCommunicator::allreduce_sum(int64_t* data, int64_t count) {
    sum_host(data, count, ncclInt64);
}

void NcclCommunicator::allreduce_sum_device(float* data, int64_t count) {
    sum_device(data, count, ncclFloat32);
}

void NcclCommunicator::allreduce_sum_device(double* data, int64_t count) {
    sum_device(data, count, ncclFloat64);
}

// Polls rather than blocking in cudaStreamSynchronize: a peer that died leaves the collective
// unfinished, and only NCCL's asynchronous error says so.
void NcclCommunicator::synchronize() {
    for (;;) {
        const cudaError_t status = cudaStreamQuery(stream_);
        if (status == cudaSuccess) return;
        if (status != cudaErrorNotReady) fail("cudaStreamQuery", cuda_error_text(status));
        ncclResult_t async = ncclSuccess;
        const ncclResult_t queried = ncclCommGetAsyncError(comm_, &async);
        if (queried != ncclSuccess) fail("ncclCommGetAsyncError", nccl_error_text(queried, comm_));
        if (async != ncclSuccess && async != ncclInProgress)
            fail("an NCCL collective", nccl_error_text(async, comm_));
        std::this_thread::yield();
    }
}

std::unique_ptr<Communicator> make_built_nccl_communicator(const std::string& where) {
    return std::make_unique<NcclCommunicator>(where);
}

}  // namespace ca
