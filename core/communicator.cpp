// The local communicator, row shards, the launcher probe and the run's choice of communicator.
#include "core/communicator.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/errors.h"
#include "core/nccl_factory.h"

#ifdef CA_WITH_MPI
#include "core/mpi_communicator.h"
#endif

namespace ca {

RowRange block_of(int64_t n, int64_t index, int64_t blocks) {
    const int64_t base = n / blocks, extra = n % blocks;
    RowRange range;
    range.begin = index * base + std::min(index, extra);
    range.end = range.begin + base + (index < extra ? 1 : 0);
    return range;
}

RowRange Communicator::shard(int64_t n) const { return block_of(n, rank(), size()); }

RowRange Communicator::aligned_shard(int64_t n, int64_t block) const {
    CA_ASSERT(block > 0 && n >= 0);
    const RowRange blocks = block_of((n + block - 1) / block, rank(), size());
    return {std::min(blocks.begin * block, n), std::min(blocks.end * block, n)};
}

void LocalCommunicator::abort(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    std::exit(EXIT_FAILURE);
}

Communicator& local_communicator() {
    static LocalCommunicator local;
    return local;
}

bool build_has_mpi() {
#ifdef CA_WITH_MPI
    return true;
#else
    return false;
#endif
}

namespace {

// The value of a launcher variable that holds a non-negative integer, else -1.
int non_negative_env(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value) return -1;
    char* end = nullptr;
    errno = 0;
    const long parsed = std::strtol(value, &end, 10);
    if (*end != '\0' || errno != 0 || parsed < 0 || parsed > INT_MAX) return -1;
    return int(parsed);
}

}  // namespace

int launcher_local_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}) {
        const int local = non_negative_env(name);
        if (local >= 0) return local;
    }
    return -1;
}

int launcher_ranks() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
        const char* value = std::getenv(name);
        if (value && *value) return std::max(0, std::atoi(value));
    }
    return 0;
}

namespace {

std::unique_ptr<Communicator> make_mpi(const std::string& where) {
#ifdef CA_WITH_MPI
    return std::make_unique<MpiCommunicator>();
#else
    CA_THROW(ConfigError, where << ": \"mpi\" asked for, but this build has no MPI; install "
                                << "an MPI (e.g. libopenmpi-dev) and rebuild, or use \"local\"");
#endif
}

// Several processes that each believe they are the only one would all write the same outputs.
void check_launcher_agrees(const Communicator& comm, const std::string& where) {
    const int launched = launcher_ranks();
    if (launched <= 1 || comm.size() == launched) return;
    CA_THROW(ConfigError,
             where << ": the launcher started " << launched << " processes, but the " << comm.name()
                   << " communicator sees " << comm.size()
                   << (comm.name() == "local" && !build_has_mpi()
                           ? " (this build has no MPI)"
                           : " (use \"mpi\", and under srun --mpi=pmix or pmi2)")
                   << "; every process would run the whole job and write the same outputs");
}

}  // namespace

std::string resolve_communicator_kind(const std::string& kind, const std::string& device) {
    if (kind != "auto") return kind;
    if (launcher_ranks() <= 1) return "local";
    if (device == "cuda" && build_has_nccl()) return "nccl";
    return build_has_mpi() ? "mpi" : "local";
}

std::unique_ptr<Communicator> make_communicator(const std::string& kind, const std::string& where,
                                                const std::string& device) {
    std::unique_ptr<Communicator> comm;
    const std::string resolved = resolve_communicator_kind(kind, device);
    if (resolved == "nccl") {
        comm = make_nccl_communicator(where);
    } else if (resolved == "mpi") {
        comm = make_mpi(where);
    } else if (resolved == "local") {
        comm = std::make_unique<LocalCommunicator>();
    } else {
        CA_THROW(ConfigError, where << ": \"" << kind
                                    << "\" is not a communicator; expected \"local\", \"mpi\" "
                                    << "or \"nccl\" (absent: nccl for device cuda, else mpi, "
                                    << "when mpirun or srun started several)");
    }
    check_launcher_agrees(*comm, where);
    return comm;
}

std::unique_ptr<Communicator> communicator_from_config(const ConfigNode& root,
                                                       const std::string& device_override) {
    std::string kind =
        root.has("ranks") ? root.choice("ranks", "local", {"local", "mpi", "nccl"}) : "auto";
    std::string device =
        !device_override.empty() ? device_override : root.choice("device", "cpu", {"cpu", "cuda"});
    return make_communicator(kind, root.where("ranks"), device);
}

double allreduce_sum(Communicator& comm, double value) {
    comm.allreduce_sum(&value, 1);
    return value;
}

int64_t allreduce_sum(Communicator& comm, int64_t value) {
    comm.allreduce_sum(&value, 1);
    return value;
}

void broadcast_floats(Communicator& comm, std::vector<float>& data) {
    if (comm.size() == 1) return;
    std::vector<char> bytes(data.size() * sizeof(float));
    std::memcpy(bytes.data(), data.data(), bytes.size());
    comm.broadcast(bytes);
    CA_ASSERT_MSG(bytes.size() == data.size() * sizeof(float),
                  "rank " << comm.rank() << " holds " << data.size() << " floats, rank 0 sent "
                          << bytes.size() / sizeof(float));
    std::memcpy(data.data(), bytes.data(), bytes.size());
}

}  // namespace ca
