// The communicator the data-parallel stages talk through (rank, size, in-place sums, a
// broadcast from rank 0, a barrier, a job-wide abort), its one-process implementation, and the
// choice between it, MPI (core/mpi_communicator.h) and NCCL (core/nccl_factory.h) for a run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"

namespace ca {

// Rows [begin, end) of one rank's shard.
struct RowRange {
    int64_t begin = 0;
    int64_t end = 0;
    int64_t size() const { return end - begin; }
};

/// Block `index` of n items cut into `blocks` contiguous blocks in order, differing in size by
/// at most one (the first n % blocks blocks take the extra items).
RowRange block_of(int64_t n, int64_t index, int64_t blocks);

// Every collective must be called by every rank in the same order with the same counts;
// ranks that disagree deadlock. Decisions taken on reduced numbers (early stopping, k-means
// convergence) assume every rank receives the same bits, which MPI's built-in sums give in
// practice (OpenMPI, MPICH); where later stages need identical data they also take rank 0's
// copy (network weights, k-means centroids).
class Communicator {
  public:
    virtual ~Communicator() = default;

    /// This process's rank, in [0, size()).
    virtual int rank() const = 0;
    /// Number of processes in the job.
    virtual int size() const = 0;
    /// data[i] = sum over ranks of data[i], in place, for count elements.
    virtual void allreduce_sum(double* data, int64_t count) = 0;
    virtual void allreduce_sum(float* data, int64_t count) = 0;
    virtual void allreduce_sum(int64_t* data, int64_t count) = 0;
    /// Rank root's bytes to every rank; the other ranks' buffers are resized to match.
    virtual void broadcast_from(int root, std::vector<char>& bytes) = 0;
    /// Rank 0's bytes to every rank.
    void broadcast(std::vector<char>& bytes) { broadcast_from(0, bytes); }
    /// Returns once every rank has called it.
    virtual void barrier() = 0;
    /// Prints message on stderr and ends every process of the job with a non-zero exit
    /// status, without unwinding: call it after the stack (and its staged outputs) is gone.
    [[noreturn]] virtual void abort(const std::string& message) = 0;
    /// "local", "mpi" or "nccl", for logs and run_info.json.
    virtual std::string name() const = 0;

    /// This rank's contiguous block of n rows: block_of(n, rank(), size()).
    RowRange shard(int64_t n) const;
    /// This rank's run of whole blocks of `block` rows (the last block may be short): for
    /// blocked work whose per-row results must not depend on where a rank's rows start.
    RowRange aligned_shard(int64_t n, int64_t block) const;
};

// One process: rank 0 of 1; sums and broadcasts leave the data as they are.
class LocalCommunicator final : public Communicator {
  public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void allreduce_sum(double*, int64_t) override {}
    void allreduce_sum(float*, int64_t) override {}
    void allreduce_sum(int64_t*, int64_t) override {}
    void broadcast_from(int, std::vector<char>&) override {}
    void barrier() override {}
    [[noreturn]] void abort(const std::string& message) override;
    std::string name() const override { return "local"; }
};

/// The process-wide local communicator: the default wherever no communicator is passed.
Communicator& local_communicator();

/// True when this build links MPI (CMake found it).
bool build_has_mpi();

/// Processes the launcher says it started: OMPI_COMM_WORLD_SIZE (mpirun), PMI_SIZE (MPICH,
/// Slurm's PMI2) or SLURM_STEP_NUM_TASKS (srun), in that order; 0 when none is set.
int launcher_ranks();

/// The node-local rank the launcher gives this process: OMPI_COMM_WORLD_LOCAL_RANK (mpirun),
/// then SLURM_LOCALID (srun); -1 when neither holds a non-negative integer. Picks the GPU of
/// a process when one process runs per GPU.
int launcher_local_rank();

/// The communicator of a run. kind "local": one process; "mpi": MPI (ConfigError when the
/// build has none); "nccl": NCCL over one GPU per MPI rank (core/nccl_factory.h; ConfigError
/// naming what the build lacks of CUDA, NCCL and MPI, or when a rank sees no device); "auto":
/// NCCL when the run's device is "cuda", the launcher started more than one process and the
/// build has NCCL, else MPI when the launcher started more than one process and the build has
/// MPI, else local (one launched process has nothing to share). Refuses (ConfigError) a
/// launcher with several processes that would each run the whole job as its own rank 0 and
/// write the same outputs. where names the config key; device is the run's "cpu" or "cuda".
std::unique_ptr<Communicator> make_communicator(const std::string& kind, const std::string& where,
                                                const std::string& device = "cpu");
/// The kind make_communicator builds for kind and device: "local", "mpi" or "nccl" (an
/// unknown kind is returned as it is, and refused there).
std::string resolve_communicator_kind(const std::string& kind, const std::string& device);
/// The same from the config's top-level "ranks" key ("local", "mpi" or "nccl"; absent means
/// "auto"), for the run's device: device_override when not empty (--device), else the config's
/// "device" (default "cpu").
std::unique_ptr<Communicator> communicator_from_config(const ConfigNode& root,
                                                       const std::string& device_override = "");

// Sums of whole vectors, for brevity at call sites.
inline void allreduce_sum(Communicator& comm, std::vector<double>& data) {
    comm.allreduce_sum(data.data(), int64_t(data.size()));
}
inline void allreduce_sum(Communicator& comm, std::vector<float>& data) {
    comm.allreduce_sum(data.data(), int64_t(data.size()));
}
inline void allreduce_sum(Communicator& comm, std::vector<int64_t>& data) {
    comm.allreduce_sum(data.data(), int64_t(data.size()));
}
/// One number summed over ranks.
double allreduce_sum(Communicator& comm, double value);
int64_t allreduce_sum(Communicator& comm, int64_t value);

/// Rank 0's floats to every rank (same count on every rank), e.g. the kept network weights.
void broadcast_floats(Communicator& comm, std::vector<float>& data);

}  // namespace ca
