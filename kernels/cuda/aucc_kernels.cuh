// The device half of ranking AUCC: radix sort by score, inclusive scans of the treated and
// control sums, the curve at the ends of tied blocks and its samples at equal cost steps.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

namespace ca {

// What the device returns; the host forms the mean, as core/aucc does.
struct DeviceAuccCurve {
    double total_cost = 0.0;
    double total_value = 0.0;
    /// points + 1 curve values at cost steps j / points * total_cost (raw units).
    std::vector<double> sampled_value;
};

/// Host inputs of n rows (n < 2^31), already checked (kernels/cpu/aucc_cpu.h) with treated
/// and control the compared rows' counts. Allocates its device scratch for the call and
/// returns once the stream has finished.
DeviceAuccCurve device_aucc_curve(const double* score, const int32_t* arm, const float* value,
                                  const float* cost, int64_t n, int treated_arm, int64_t treated,
                                  int64_t control, int points, cudaStream_t stream);

}  // namespace ca
