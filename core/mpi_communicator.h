// The MPI communicator over MPI_COMM_WORLD (built only where CMake finds MPI; CA_WITH_MPI).
// MPI is initialised once per process on first use and finalised at exit; only the thread
// that created the communicator calls MPI (MPI_THREAD_FUNNELED: OpenMP teams never do).
#pragma once

#include "core/communicator.h"

namespace ca {

class MpiCommunicator final : public Communicator {
  public:
    /// Initialises MPI if this process has not yet (a process started without mpirun becomes
    /// a one-rank job). Errors of MPI calls are returned, not fatal, and thrown as
    /// std::runtime_error naming the call.
    MpiCommunicator();

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void allreduce_sum(double* data, int64_t count) override;
    void allreduce_sum(float* data, int64_t count) override;
    void allreduce_sum(int64_t* data, int64_t count) override;
    void broadcast_from(int root, std::vector<char>& bytes) override;
    void barrier() override;
    /// MPI_Abort on MPI_COMM_WORLD: the launcher ends every rank, exit status 1.
    [[noreturn]] void abort(const std::string& message) override;
    std::string name() const override { return "mpi"; }

  private:
    int rank_ = 0;
    int size_ = 1;
};

}  // namespace ca
