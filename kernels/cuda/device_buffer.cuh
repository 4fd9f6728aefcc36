// A device allocation that only grows, so a backend called again and again with similar sizes
// allocates once.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>

#include "kernels/cuda/cuda_check.cuh"

namespace ca {

class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    ~DeviceBuffer() {
        // A destructor must not throw; a failed free at shutdown changes nothing for the caller.
        if (data_) cudaFree(data_);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    /// At least count elements of T; the contents are not preserved when the block grows.
    template <typename T>
    T* reserve(size_t count) {
        return static_cast<T*>(reserve_bytes(count * sizeof(T)));
    }

  private:
    void* reserve_bytes(size_t bytes) {
        if (bytes <= capacity_ && data_) return data_;
        // Half again the old size, so a slowly growing caller reallocates only a few times.
        const size_t grown = std::max({bytes, capacity_ + capacity_ / 2, size_t(256)});
        void* old = data_;
        data_ = nullptr;
        capacity_ = 0;
        if (old) CUDA_CHECK(cudaFree(old));
        void* fresh = nullptr;
        CUDA_CHECK(cudaMalloc(&fresh, grown));
        data_ = fresh;
        capacity_ = grown;
        return data_;
    }

    void* data_ = nullptr;
    size_t capacity_ = 0;
};

}  // namespace ca
