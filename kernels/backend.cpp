// Backend selection by name; the CUDA factory is linked in only when the build has CUDA.
#include "kernels/backend.h"

#include "core/errors.h"
#include "kernels/cpu/cpu_backend.h"

namespace ca {

#ifdef CA_WITH_CUDA
std::unique_ptr<Backend> make_cuda_backend();  // kernels/cuda/cuda_backend.cu
#endif

bool cuda_backend_built() {
#ifdef CA_WITH_CUDA
    return true;
#else
    return false;
#endif
}

Backend& cpu_backend() {
    static CpuBackend backend;
    return backend;
}

std::unique_ptr<Backend> make_backend(const std::string& device) {
    if (device == "cpu") return std::make_unique<CpuBackend>();
    if (device == "cuda") {
#ifdef CA_WITH_CUDA
        return make_cuda_backend();
#else
        throw ConfigError("device: \"cuda\" was requested but this build has no CUDA backend "
                          "(nvcc was not found at configure time); use --device cpu");
#endif
    }
    throw ConfigError("device: unknown value \"" + device + "\"; expected cpu or cuda");
}

}  // namespace ca
