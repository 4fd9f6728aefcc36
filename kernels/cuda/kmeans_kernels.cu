// k-means kernels. Nearest centroid: one warp per point scans the point's row of the cuBLAS dot
// products, so the x . c work stays in the GEMM. Centroid sums and counts: atomics (double for
// sums), into a per-block shared table when it fits (few global atomics), else into global memory.
#include <algorithm>
#include <climits>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kmeans_kernels.cuh"
#include "kernels/cuda/launch_shape.cuh"

namespace ca {

namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
// Default shared memory a block may use without opting in to more.
constexpr size_t kSharedTableBytes = 48 * 1024;

__device__ float warp_sum(float value) {
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
        value += __shfl_down_sync(kFullMask, value, offset);
    return value;
}

// Lane 0 ends with the smallest distance and, among equal ones, the lowest index. NaN never
// wins a comparison, so a NaN distance is passed over as on the CPU.
__device__ void warp_argmin(float& best, int& best_index) {
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        const float other = __shfl_down_sync(kFullMask, best, offset);
        const int other_index = __shfl_down_sync(kFullMask, best_index, offset);
        if (other < best || (other == best && other_index < best_index)) {
            best = other;
            best_index = other_index;
        }
    }
}

__global__ void nearest_from_dots_kernel(const float* x, const float* dots,
                                         const float* centroid_norms, int64_t rows, int d, int k,
                                         int32_t* labels, float* distance2) {
    const int lane = threadIdx.x % kWarp;
    const int64_t warps = int64_t(gridDim.x) * (blockDim.x / kWarp);
    // r is the same for the whole warp, so every lane reaches the shuffles together.
    for (int64_t r = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / kWarp; r < rows;
         r += warps) {
        const float* row_dots = dots + r * k;
        float best = INFINITY;
        int best_index = INT_MAX;
        for (int c = lane; c < k; c += kWarp) {
            const float distance = centroid_norms[c] - 2.0f * row_dots[c];
            if (distance < best) {
                best = distance;
                best_index = c;
            }
        }
        warp_argmin(best, best_index);

        float norm = 0.0f;
        if (distance2) {
            const float* row = x + r * d;
            for (int j = lane; j < d; j += kWarp) norm += row[j] * row[j];
            norm = warp_sum(norm);
        }
        if (lane == 0) {
            // No finite distance at all (k = 0 or all NaN): label 0, like the CPU.
            labels[r] = best_index == INT_MAX ? 0 : best_index;
            // Cancellation can leave a tiny negative number for a point on its centroid.
            const float total = best + norm;
            if (distance2) distance2[r] = total < 0.0f ? 0.0f : total;
        }
    }
}

// Adds one to counts[labels[i]] for every row this thread visits; a label outside [0, k) adds
// to counts[k] instead and contributes no sums.
__device__ void count_rows(const int32_t* labels, int64_t n, int k, unsigned long long* counts) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int32_t label = labels[i];
        atomicAdd(counts + ((label >= 0 && label < k) ? label : k), 1ull);
    }
}

// Adds x[i, j] to table[labels[i] * d + j] for every element this thread visits.
__device__ void add_rows_to_table(const float* x, int64_t n, int d, const int32_t* labels, int k,
                                  double* table) {
    const int64_t total = n * d;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
         e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t row = e / d;
        const int32_t label = labels[row];
        if (label >= 0 && label < k)
            atomicAdd(table + int64_t(label) * d + (e - row * d), double(x[e]));
    }
}

__global__ void accumulate_global_kernel(const float* x, int64_t n, int d, const int32_t* labels,
                                         int k, double* sums, unsigned long long* counts) {
    count_rows(labels, n, k, counts);
    add_rows_to_table(x, n, d, labels, k, sums);
}

// The block's own k x d sums and k + 1 counts live in shared memory; each block adds its
// non-zero entries to the global tables once at the end.
__global__ void accumulate_shared_kernel(const float* x, int64_t n, int d, const int32_t* labels,
                                         int k, double* sums, unsigned long long* counts) {
    extern __shared__ double table[];
    const int64_t cells = int64_t(k) * d;
    auto* table_counts = reinterpret_cast<unsigned long long*>(table + cells);
    for (int64_t c = threadIdx.x; c < cells; c += blockDim.x) table[c] = 0.0;
    for (int c = threadIdx.x; c <= k; c += blockDim.x) table_counts[c] = 0;
    __syncthreads();

    count_rows(labels, n, k, table_counts);
    add_rows_to_table(x, n, d, labels, k, table);
    __syncthreads();

    for (int64_t c = threadIdx.x; c < cells; c += blockDim.x)
        if (table[c] != 0.0) atomicAdd(sums + c, table[c]);
    for (int c = threadIdx.x; c <= k; c += blockDim.x)
        if (table_counts[c] != 0) atomicAdd(counts + c, table_counts[c]);
}

}  // namespace

void launch_nearest_from_dots(const float* x, const float* dots, const float* centroid_norms,
                              int64_t rows, int d, int k, int32_t* labels, float* distance2,
                              cudaStream_t stream) {
    if (rows == 0) return;
    constexpr int kWarpsPerBlock = kThreadsPerBlock / kWarp;
    const int64_t blocks =
        std::clamp<int64_t>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock, 1, 65535);
    nearest_from_dots_kernel<<<unsigned(blocks), kThreadsPerBlock, 0, stream>>>(
        x, dots, centroid_norms, rows, d, k, labels, distance2);
    CUDA_CHECK_LAUNCH("nearest_from_dots_kernel");
}

void launch_accumulate_centroids(const float* x, int64_t n, int d, const int32_t* labels, int k,
                                 double* sums, unsigned long long* counts, int multiprocessors,
                                 cudaStream_t stream) {
    if (n == 0) return;
    const size_t table_bytes =
        size_t(k) * size_t(d) * sizeof(double) + (size_t(k) + 1) * sizeof(unsigned long long);
    if (table_bytes <= kSharedTableBytes) {
        // Every block flushes its whole table, so a few blocks per multiprocessor suffice.
        const unsigned blocks = grid_blocks(std::max<int64_t>(n * d, n), 2 * multiprocessors);
        accumulate_shared_kernel<<<blocks, kThreadsPerBlock, table_bytes, stream>>>(
            x, n, d, labels, k, sums, counts);
        CUDA_CHECK_LAUNCH("accumulate_shared_kernel");
    } else {
        accumulate_global_kernel<<<grid_blocks(std::max<int64_t>(n * d, n)), kThreadsPerBlock, 0,
                                   stream>>>(x, n, d, labels, k, sums, counts);
        CUDA_CHECK_LAUNCH("accumulate_global_kernel");
    }
}

}  // namespace ca
