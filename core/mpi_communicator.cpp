// MPI communicator: a process-wide init/finalize guard, and the collectives in chunks that fit
// MPI's int counts.
#include "core/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace ca {

namespace {

// MPI may be initialised once per process and never again after MPI_Finalize, so one static
// guard owns both; it finalises at exit unless the job was aborted.
class MpiRuntime {
  public:
    static MpiRuntime& instance() {
        static MpiRuntime runtime;
        return runtime;
    }
    ~MpiRuntime() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (owns_ && !finalized) MPI_Finalize();
    }

  private:
    MpiRuntime() {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (initialized) return;
        int provided = 0;
        if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            throw std::runtime_error("MPI_Init_thread failed");
        owns_ = true;
        // Errors come back as codes and become exceptions, so a failing call on one rank is
        // reported as that rank's error and aborts the job like any other.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    bool owns_ = false;
};

void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw std::runtime_error(std::string(call) + " failed: " + std::string(text, size_t(length)));
}

// MPI counts are int; a longer buffer goes in chunks (each element-wise, so the sum is the same).
constexpr int64_t kMaxChunk = INT_MAX / 2;

template <typename T>
void allreduce_chunks(T* data, int64_t count, MPI_Datatype type) {
    for (int64_t start = 0; start < count; start += kMaxChunk) {
        int chunk = int(std::min(kMaxChunk, count - start));
        check(MPI_Allreduce(MPI_IN_PLACE, data + start, chunk, type, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
    }
}

}  // namespace

MpiCommunicator::MpiCommunicator() {
    MpiRuntime::instance();
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

void MpiCommunicator::allreduce_sum(double* data, int64_t count) {
    allreduce_chunks(data, count, MPI_DOUBLE);
}

void MpiCommunicator::allreduce_sum(float* data, int64_t count) {
    allreduce_chunks(data, count, MPI_FLOAT);
}

void MpiCommunicator::allreduce_sum(int64_t* data, int64_t count) {
    allreduce_chunks(data, count, MPI_INT64_T);
}

void MpiCommunicator::broadcast_from(int root, std::vector<char>& bytes) {
    int64_t length = int64_t(bytes.size());
    check(MPI_Bcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    bytes.resize(size_t(length));
    for (int64_t start = 0; start < length; start += kMaxChunk) {
        int chunk = int(std::min(kMaxChunk, length - start));
        check(MPI_Bcast(bytes.data() + start, chunk, MPI_BYTE, root, MPI_COMM_WORLD),
              "MPI_Bcast");
    }
}

void MpiCommunicator::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

void MpiCommunicator::abort(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(EXIT_FAILURE);  // MPI_Abort does not return; this only satisfies [[noreturn]]
}

}  // namespace ca
