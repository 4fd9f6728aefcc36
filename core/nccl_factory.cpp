// The NCCL factory: forwards to kernels/cuda/nccl_communicator.cpp where the build has it, and
// says what is missing where it does not.
#include "core/nccl_factory.h"

#include "core/errors.h"

namespace ca {

#ifdef CA_WITH_NCCL
std::unique_ptr<Communicator> make_built_nccl_communicator(const std::string& where);
#endif

bool build_has_nccl() {
#ifdef CA_WITH_NCCL
    return true;
#else
    return false;
#endif
}

std::string nccl_missing_parts() {
    std::string missing;
#ifndef CA_WITH_CUDA
    missing = "CUDA (nvcc was not found at configure time; NCCL is looked for in its toolkit)";
#elif !defined(CA_WITH_NCCL) && defined(CA_WITH_MPI)
    missing = "NCCL (nccl.h and libnccl were not found in the CUDA toolkit)";
#endif
#ifndef CA_WITH_MPI
    missing += missing.empty() ? "MPI (it hands out NCCL's unique id)"
                               : " and MPI (it hands out NCCL's unique id)";
#endif
    return missing;
}

std::unique_ptr<Communicator> make_nccl_communicator(const std::string& where) {
#ifdef CA_WITH_NCCL
    return make_built_nccl_communicator(where);
#else
    CA_THROW(ConfigError, where << ": \"nccl\" asked for, but this build has no NCCL "
                                << "communicator: it lacks " << nccl_missing_parts()
                                << "; rebuild with what is missing, or use \"mpi\" or \"local\"");
#endif
}

}  // namespace ca
