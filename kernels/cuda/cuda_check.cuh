// Check macros for every CUDA runtime call, cuBLAS call and kernel launch. A failure throws
// CudaError naming the call, the runtime's error string and file:line; libraries never exit.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace ca {

// A CUDA runtime or cuBLAS failure: out of device memory, a faulting kernel, a lost device.
class CudaError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_cuda_error(const char* call, const char* error, const char* file,
                                          int line) {
    std::ostringstream out;
    out << "CUDA error: " << call << " failed: " << error << " at " << file << ':' << line;
    throw CudaError(out.str());
}

}  // namespace ca

#define CUDA_CHECK(call)                                                                 \
    do {                                                                                 \
        const cudaError_t ca_cuda_status_ = (call);                                      \
        if (ca_cuda_status_ != cudaSuccess)                                              \
            ::ca::throw_cuda_error(#call, cudaGetErrorString(ca_cuda_status_), __FILE__, \
                                   __LINE__);                                            \
    } while (0)

#define CUBLAS_CHECK(call)                                                                    \
    do {                                                                                      \
        const cublasStatus_t ca_cublas_status_ = (call);                                      \
        if (ca_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                       \
            ::ca::throw_cuda_error(#call, cublasGetStatusString(ca_cublas_status_), __FILE__, \
                                   __LINE__);                                                 \
    } while (0)

// After a <<<...>>> launch: a bad configuration shows up here; faults inside the kernel
// surface at the next synchronising call, which is checked too.
#define CUDA_CHECK_LAUNCH(kernel_name)                                                         \
    do {                                                                                       \
        const cudaError_t ca_launch_status_ = cudaGetLastError();                              \
        if (ca_launch_status_ != cudaSuccess)                                                  \
            ::ca::throw_cuda_error("launch of " kernel_name,                                   \
                                   cudaGetErrorString(ca_launch_status_), __FILE__, __LINE__); \
    } while (0)
