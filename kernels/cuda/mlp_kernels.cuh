// Launchers of the dense-network kernels: bias + activation, ReLU backward, column sums and the
// Adam update. All pointers are device pointers; work is queued on the given stream.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ca {

/// y[r, c] += bias[c], then max(0, .) when relu is set (NaN passes through, as on the CPU).
void launch_add_bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, bool relu,
                                cudaStream_t stream);

/// grad[i] = 0 where y[i] is not positive.
void launch_relu_backward(const float* y, float* grad, int64_t count, cudaStream_t stream);

/// Doubles of scratch launch_column_sums needs for a rows x cols matrix.
int64_t column_sums_scratch_size(int64_t rows, int64_t cols);

/// out[c] = sum over rows of a[r, c], accumulated in double in a fixed order (deterministic).
void launch_column_sums(const float* a, int64_t rows, int64_t cols, double* scratch, float* out,
                        cudaStream_t stream);

// The Adam coefficients after bias correction, computed once on the host.
struct AdamCoefficients {
    float beta1 = 0.9f;     ///< first-moment decay
    float beta2 = 0.999f;   ///< second-moment decay
    float rate = 1e-3f;     ///< learning rate times sqrt(1 - beta2^t) / (1 - beta1^t)
    float epsilon = 1e-8f;  ///< epsilon times sqrt(1 - beta2^t)
};

/// m, v and param updated in place from grad, count elements.
void launch_adam_update(float* param, float* m, float* v, const float* grad, int64_t count,
                        const AdamCoefficients& coefficients, cudaStream_t stream);

}  // namespace ca
