// Launcher of the Lagrangian pass over users: each row picks its best arm, and each block adds
// up the chosen values and costs in double. Device pointers; work is queued on the stream.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ca {

/// Blocks launch_dual_pass uses for n rows: the length of block_value and block_cost.
int dual_pass_blocks(int64_t n);

/// choice[i] = argmax_j value[i, j] - lambda * cost[i, j] (lowest j on ties; choice may be
/// null), value and cost n x m. block_value[b] and block_cost[b] receive block b's sums of the
/// chosen value and cost; the caller adds the dual_pass_blocks(n) entries in order.
void launch_dual_pass(const float* value, const float* cost, int64_t n, int m, float lambda,
                      int32_t* choice, double* block_value, double* block_cost,
                      cudaStream_t stream);

}  // namespace ca
