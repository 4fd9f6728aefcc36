// The per-lambda pass of the individual dual solver: one thread per user scans its m arms (m is
// small), then a warp-shuffle and shared-memory reduction gives one double pair per block. The
// grid size depends on n only, so the totals are the same bits on every run and device.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/dual_pass_kernels.cuh"
#include "kernels/cuda/launch_shape.cuh"

namespace ca {

namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int64_t kMaxDualBlocks = 1024;

__device__ double warp_sum(double value) {
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
        value += __shfl_down_sync(kFullMask, value, offset);
    return value;
}

// Thread 0 ends with the block's totals.
__device__ void block_sum(double& value, double& cost) {
    __shared__ double warp_values[kThreadsPerBlock / kWarp];
    __shared__ double warp_costs[kThreadsPerBlock / kWarp];
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    value = warp_sum(value);
    cost = warp_sum(cost);
    if (lane == 0) {
        warp_values[warp] = value;
        warp_costs[warp] = cost;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < kThreadsPerBlock / kWarp; ++w) {
            value += warp_values[w];
            cost += warp_costs[w];
        }
    }
}

__global__ void dual_pass_kernel(const float* value, const float* cost, int64_t n, int m,
                                 float lambda, int32_t* choice, double* block_value,
                                 double* block_cost) {
    double chosen_value = 0.0, chosen_cost = 0.0;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x) {
        const float* v = value + i * m;
        const float* c = cost + i * m;
        // The same float expression and strict comparison as the CPU: ties keep the lower arm.
        int best = 0;
        float best_score = v[0] - lambda * c[0];
        for (int j = 1; j < m; ++j) {
            const float score = v[j] - lambda * c[j];
            if (score > best_score) {
                best_score = score;
                best = j;
            }
        }
        if (choice) choice[i] = best;
        chosen_value += v[best];
        chosen_cost += c[best];
    }
    block_sum(chosen_value, chosen_cost);
    if (threadIdx.x == 0) {
        block_value[blockIdx.x] = chosen_value;
        block_cost[blockIdx.x] = chosen_cost;
    }
}

}  // namespace

int dual_pass_blocks(int64_t n) { return int(grid_blocks(n, kMaxDualBlocks)); }

void launch_dual_pass(const float* value, const float* cost, int64_t n, int m, float lambda,
                      int32_t* choice, double* block_value, double* block_cost,
                      cudaStream_t stream) {
    dual_pass_kernel<<<unsigned(dual_pass_blocks(n)), kThreadsPerBlock, 0, stream>>>(
        value, cost, n, m, lambda, choice, block_value, block_cost);
    CUDA_CHECK_LAUNCH("dual_pass_kernel");
}

}  // namespace ca
