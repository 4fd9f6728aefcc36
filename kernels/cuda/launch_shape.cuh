// The launch shape shared by the grid-stride kernels of the CUDA backend.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ca {

// Threads per block of the element-wise and reduction kernels (a multiple of the warp size).
constexpr int kThreadsPerBlock = 256;

// Blocks for a grid-stride loop over count items; capped because each thread loops anyway.
inline unsigned int grid_blocks(int64_t count, int64_t max_blocks = 4096) {
    const int64_t needed = (count + kThreadsPerBlock - 1) / kThreadsPerBlock;
    return unsigned(std::clamp<int64_t>(needed, 1, max_blocks));
}

}  // namespace ca
