// Entry points of the CUDA backend. Free of CUDA types, so any translation unit may include it;
// it exists only in builds with CUDA (CA_WITH_CUDA).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace ca {

// Settings of one CUDA backend; the defaults suit a data-centre GPU.
struct CudaBackendParams {
    /// Device ordinal as cudaGetDeviceCount counts them; -1 takes the calling thread's current
    /// device. make_cuda_backend() without parameters sets it from the launcher's node-local
    /// rank (one process per GPU), else leaves -1.
    int device = -1;
    /// Most elements one staged operand of assign_nearest, accumulate_centroids or dual_pass
    /// holds on the device; longer inputs go through in row tiles of this size.
    int64_t max_stage_elements = int64_t(1) << 26;
};

/// True when the CUDA runtime sees at least one device.
bool cuda_device_available();

/// "device N: <name>" for the current device, or why none is usable
/// ("cudaGetDeviceCount: <runtime error string>").
std::string cuda_device_status();

/// The CUDA backend. Every call takes host pointers, copies its operands to the device and its
/// results back before returning (PCIe traffic on each call; staging buffers are kept and only
/// grow). Calls on one backend are serialised by a lock; separate backends run independently.
/// Throws ConfigError("device: cuda was requested but no CUDA device is
/// visible (cudaGetDeviceCount: ...)") without a device, or when params.device does not exist.
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendParams& params);
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace ca
