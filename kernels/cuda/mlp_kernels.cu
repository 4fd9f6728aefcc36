// Dense-network kernels: element-wise grid-stride loops, and a two-pass column sum whose partial
// sums per row chunk are added in a fixed order, so repeated runs give the same bits.
#include <algorithm>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/launch_shape.cuh"
#include "kernels/cuda/mlp_kernels.cuh"

namespace ca {

namespace {

// Column sums: a block covers kColumnTile adjacent columns (one warp reads one row segment)
// with kRowLanes rows in flight; each row chunk of the grid writes one partial row.
constexpr int kColumnTile = 32;
constexpr int kRowLanes = 8;
constexpr int64_t kMaxRowChunks = 1024;
constexpr int64_t kRowsPerChunk = 128;

__device__ int64_t global_thread() { return blockIdx.x * int64_t(blockDim.x) + threadIdx.x; }
__device__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

__global__ void add_bias_activation_kernel(float* y, const float* bias, int64_t rows, int64_t cols,
                                           bool relu) {
    const int64_t total = rows * cols;
    for (int64_t i = global_thread(); i < total; i += grid_stride()) {
        const float out = y[i] + bias[i % cols];
        // Written as the CPU's std::max(out, 0) so NaN and -0 come out the same.
        y[i] = (relu && out < 0.0f) ? 0.0f : out;
    }
}

__global__ void relu_backward_kernel(const float* y, float* grad, int64_t count) {
    for (int64_t i = global_thread(); i < count; i += grid_stride())
        grad[i] = y[i] > 0.0f ? grad[i] : 0.0f;
}

__global__ void column_partial_sums_kernel(const float* a, int64_t rows, int64_t cols,
                                           double* partial) {
    __shared__ double lanes[kRowLanes][kColumnTile];
    const int64_t col = blockIdx.x * int64_t(kColumnTile) + threadIdx.x;
    double total = 0.0;
    if (col < cols) {
        const int64_t stride = int64_t(gridDim.y) * kRowLanes;
        for (int64_t r = blockIdx.y * int64_t(kRowLanes) + threadIdx.y; r < rows; r += stride)
            total += a[r * cols + col];
    }
    lanes[threadIdx.y][threadIdx.x] = total;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        for (int lane = 1; lane < kRowLanes; ++lane) total += lanes[lane][threadIdx.x];
        partial[blockIdx.y * cols + col] = total;
    }
}

__global__ void column_totals_kernel(const double* partial, int64_t chunks, int64_t cols,
                                     float* out) {
    for (int64_t col = global_thread(); col < cols; col += grid_stride()) {
        double total = 0.0;
        for (int64_t chunk = 0; chunk < chunks; ++chunk) total += partial[chunk * cols + col];
        out[col] = float(total);
    }
}

__global__ void adam_update_kernel(float* param, float* m, float* v, const float* grad,
                                   int64_t count, AdamCoefficients adam) {
    for (int64_t i = global_thread(); i < count; i += grid_stride()) {
        const float g = grad[i];
        const float first = adam.beta1 * m[i] + (1.0f - adam.beta1) * g;
        const float second = adam.beta2 * v[i] + (1.0f - adam.beta2) * g * g;
        m[i] = first;
        v[i] = second;
        param[i] -= adam.rate * first / (sqrtf(second) + adam.epsilon);
    }
}

int64_t row_chunks(int64_t rows) {
    return std::clamp<int64_t>((rows + kRowsPerChunk - 1) / kRowsPerChunk, 1, kMaxRowChunks);
}

}  // namespace

void launch_add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, bool relu,
                                cudaStream_t stream) {
    if (rows == 0 || cols == 0) return;
    add_bias_activation_kernel<<<grid_blocks(rows * cols), kThreadsPerBlock, 0, stream>>>(
        y, bias, rows, cols, relu);
    CUDA_CHECK_LAUNCH("add_bias_activation_kernel");
}

void launch_relu_backward(const float* y, float* grad, int64_t count, cudaStream_t stream) {
    if (count == 0) return;
    relu_backward_kernel<<<grid_blocks(count), kThreadsPerBlock, 0, stream>>>(y, grad, count);
    CUDA_CHECK_LAUNCH("relu_backward_kernel");
}

int64_t column_sums_scratch_size(int64_t rows, int64_t cols) { return row_chunks(rows) * cols; }

void launch_column_sums(const float* a, int64_t rows, int64_t cols, double* scratch, float* out,
                        cudaStream_t stream) {
    if (cols == 0) return;
    const int64_t chunks = row_chunks(rows);
    const dim3 grid(unsigned((cols + kColumnTile - 1) / kColumnTile), unsigned(chunks));
    const dim3 block(kColumnTile, kRowLanes);
    column_partial_sums_kernel<<<grid, block, 0, stream>>>(a, rows, cols, scratch);
    CUDA_CHECK_LAUNCH("column_partial_sums_kernel");
    column_totals_kernel<<<grid_blocks(cols), kThreadsPerBlock, 0, stream>>>(scratch, chunks, cols,
                                                                             out);
    CUDA_CHECK_LAUNCH("column_totals_kernel");
}

void launch_adam_update(float* param, float* m, float* v, const float* grad, int64_t count,
                        const AdamCoefficients& coefficients, cudaStream_t stream) {
    if (count == 0) return;
    adam_update_kernel<<<grid_blocks(count), kThreadsPerBlock, 0, stream>>>(param, m, v, grad,
                                                                            count, coefficients);
    CUDA_CHECK_LAUNCH("adam_update_kernel");
}

}  // namespace ca
