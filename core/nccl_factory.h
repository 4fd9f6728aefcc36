// The NCCL communicator as core/ sees it: whether the build has it, and a factory that works in
// every build (it throws ConfigError where CUDA, NCCL or MPI was missing at configure time).
#pragma once

#include <memory>
#include <string>

#include "core/communicator.h"

namespace ca {

/// True when this build contains the NCCL communicator (CMake found CUDA, NCCL and MPI).
bool build_has_nccl();

/// What this build lacks for the NCCL communicator, e.g. "CUDA (nvcc was not found at configure
/// time) and MPI"; empty when build_has_nccl().
std::string nccl_missing_parts();

/// One NCCL rank per MPI process, each on the GPU of its node-local rank
/// (kernels/cuda/nccl_communicator.h). where names the config key in errors: a build without
/// the NCCL communicator, no visible device, or a failed NCCL setup on any rank is a
/// ConfigError on every rank.
std::unique_ptr<Communicator> make_nccl_communicator(const std::string& where);

}  // namespace ca
