// Ranking AUCC on the device. Rows outside the two compared arms get the key -inf and sort
// last; the radix sort is stable but order inside a tie does not matter, since the curve is
// taken only at the ends of tied blocks. The four running sums (treated and control cost and
// value) are scanned raw and divided at block ends exactly as core/aucc does, so integer data
// gives the CPU's numbers; the running maximum of the curve's cost makes "the first block
// ending above x" a binary search.
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_select.cuh>
#include <deque>
#include <limits>

#include "core/errors.h"
#include "kernels/cuda/aucc_kernels.cuh"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/device_buffer.cuh"
#include "kernels/cuda/launch_shape.cuh"

namespace ca {

namespace {

struct ArmSums {
    double treated_cost;
    double treated_value;
    double control_cost;
    double control_value;
};

struct AddArmSums {
    __host__ __device__ ArmSums operator()(const ArmSums& a, const ArmSums& b) const {
        return {a.treated_cost + b.treated_cost, a.treated_value + b.treated_value,
                a.control_cost + b.control_cost, a.control_value + b.control_value};
    }
};

struct Larger {
    __host__ __device__ double operator()(double a, double b) const { return a > b ? a : b; }
};

// key = score (+0.0 folds -0.0 into 0.0) for compared rows, lowest for the rest.
__global__ void rank_keys_kernel(const double* score, const int32_t* arm, int n, int treated_arm,
                                 double lowest, double* key, int32_t* row) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x) {
        const bool compared = arm[i] == 0 || arm[i] == treated_arm;
        key[i] = compared ? score[i] + 0.0 : lowest;
        row[i] = int32_t(i);
    }
}

// Each ranked row's contribution to the running sums, and whether it ends a tied block.
__global__ void gather_rows_kernel(const int32_t* sorted_row, const double* sorted_key, int used,
                                   const int32_t* arm, const float* value, const float* cost,
                                   ArmSums* sums, char* is_end) {
    for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < used;
         p += int64_t(gridDim.x) * blockDim.x) {
        const int32_t row = sorted_row[p];
        const double c = cost[row], v = value[row];
        sums[p] = arm[row] != 0 ? ArmSums{c, v, 0.0, 0.0} : ArmSums{0.0, 0.0, c, v};
        is_end[p] = p + 1 == used || sorted_key[p + 1] != sorted_key[p];
    }
}

// Curve point b + 1 from the running sums at block b's last row; point 0 is the origin.
__global__ void curve_kernel(const ArmSums* scanned, const int* ends, int blocks, double treated,
                             double control, double* curve_cost, double* curve_value) {
    for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < blocks;
         b += int64_t(gridDim.x) * blockDim.x) {
        const ArmSums s = scanned[ends[b]];
        curve_cost[b + 1] = s.treated_cost / treated - s.control_cost / control;
        curve_value[b + 1] = s.treated_value / treated - s.control_value / control;
        if (b == 0) curve_cost[0] = curve_value[0] = 0.0;
    }
}

// Sample j: the first curve point above x = total * j / points is point i + 1, i the first
// running maximum above x; the value is interpolated between points i and i + 1.
__global__ void sample_kernel(const double* curve_cost, const double* curve_value,
                              const double* running_max, int blocks, int points, double* sampled) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j > points) return;
    const double x = curve_cost[blocks] * (double(j) / points);
    int low = 0, high = blocks;
    while (low < high) {
        const int middle = low + (high - low) / 2;
        if (running_max[middle] > x) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    const int b = low;
    if (b == blocks) {
        sampled[j] = curve_value[blocks];
        return;
    }
    const double fraction = (x - curve_cost[b]) / (curve_cost[b + 1] - curve_cost[b]);
    sampled[j] = curve_value[b] + fraction * (curve_value[b + 1] - curve_value[b]);
}

// The call's device memory, one buffer per operand, freed when the call returns.
class Scratch {
  public:
    template <typename T>
    T* take(size_t count) {
        buffers_.emplace_back();  // a deque never moves its elements
        return buffers_.back().reserve<T>(std::max<size_t>(count, 1));
    }
    template <typename T>
    T* upload(const T* host, size_t count, cudaStream_t stream) {
        T* device = take<T>(count);
        CUDA_CHECK(
            cudaMemcpyAsync(device, host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
        return device;
    }
    // Runs a CUB device call twice: once to size its temporary storage, once to do the work.
    // Each call's storage is its own, so no block is freed while queued work may read it.
    template <typename Call>
    void run_cub(Call call) {
        size_t bytes = 0;
        CUDA_CHECK(call(nullptr, bytes));
        void* storage = take<char>(bytes);
        CUDA_CHECK(call(storage, bytes));
    }

  private:
    std::deque<DeviceBuffer> buffers_;
};

// The compared rows on the device, best score first.
struct RankedRows {
    int used = 0;  ///< compared rows; they occupy the first `used` sorted positions
    const int32_t* arm = nullptr;
    const float* value = nullptr;
    const float* cost = nullptr;
    const int32_t* sorted_row = nullptr;
    const double* sorted_key = nullptr;
};

RankedRows rank_rows(Scratch& scratch, const double* score, const int32_t* arm, const float* value,
                     const float* cost, int n, int treated_arm, int used, cudaStream_t stream) {
    RankedRows ranked;
    ranked.used = used;
    const double* device_score = scratch.upload(score, n, stream);
    ranked.arm = scratch.upload(arm, n, stream);
    ranked.value = scratch.upload(value, n, stream);
    ranked.cost = scratch.upload(cost, n, stream);
    double* key = scratch.take<double>(n);
    double* sorted_key = scratch.take<double>(n);
    int32_t* row = scratch.take<int32_t>(n);
    int32_t* sorted_row = scratch.take<int32_t>(n);
    rank_keys_kernel<<<grid_blocks(n), kThreadsPerBlock, 0, stream>>>(
        device_score, ranked.arm, n, treated_arm, -std::numeric_limits<double>::infinity(), key,
        row);
    CUDA_CHECK_LAUNCH("rank_keys_kernel");
    scratch.run_cub([&](void* temp, size_t& bytes) {
        return cub::DeviceRadixSort::SortPairsDescending(temp, bytes, key, sorted_key, row,
                                                         sorted_row, n, 0, 64, stream);
    });
    ranked.sorted_row = sorted_row;
    ranked.sorted_key = sorted_key;
    return ranked;
}

// The curve at block ends: points 0..blocks of curve_cost and curve_value.
struct BlockCurve {
    int blocks = 0;
    double* cost = nullptr;
    double* value = nullptr;
};

BlockCurve block_curve(Scratch& scratch, const RankedRows& ranked, int64_t treated, int64_t control,
                       cudaStream_t stream) {
    const int used = ranked.used;
    ArmSums* sums = scratch.take<ArmSums>(used);
    ArmSums* scanned = scratch.take<ArmSums>(used);
    char* is_end = scratch.take<char>(used);
    int* ends = scratch.take<int>(used);
    int* block_count = scratch.take<int>(1);
    gather_rows_kernel<<<grid_blocks(used), kThreadsPerBlock, 0, stream>>>(
        ranked.sorted_row, ranked.sorted_key, used, ranked.arm, ranked.value, ranked.cost, sums,
        is_end);
    CUDA_CHECK_LAUNCH("gather_rows_kernel");
    scratch.run_cub([&](void* temp, size_t& bytes) {
        return cub::DeviceScan::InclusiveScan(temp, bytes, sums, scanned, AddArmSums(), used,
                                              stream);
    });
    const thrust::counting_iterator<int> positions(0);
    scratch.run_cub([&](void* temp, size_t& bytes) {
        return cub::DeviceSelect::Flagged(temp, bytes, positions, is_end, ends, block_count, used,
                                          stream);
    });
    BlockCurve curve;
    CUDA_CHECK(
        cudaMemcpyAsync(&curve.blocks, block_count, sizeof(int), cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    curve.cost = scratch.take<double>(size_t(curve.blocks) + 1);
    curve.value = scratch.take<double>(size_t(curve.blocks) + 1);
    curve_kernel<<<grid_blocks(curve.blocks), kThreadsPerBlock, 0, stream>>>(
        scanned, ends, curve.blocks, double(treated), double(control), curve.cost, curve.value);
    CUDA_CHECK_LAUNCH("curve_kernel");
    return curve;
}

}  // namespace

DeviceAuccCurve device_aucc_curve(const double* score, const int32_t* arm, const float* value,
                                  const float* cost, int64_t n, int treated_arm, int64_t treated,
                                  int64_t control, int points, cudaStream_t stream) {
    CA_ASSERT_MSG(n <= std::numeric_limits<int>::max(), n << " rows exceed 32-bit indices");
    Scratch scratch;
    const RankedRows ranked = rank_rows(scratch, score, arm, value, cost, int(n), treated_arm,
                                        int(treated + control), stream);
    const BlockCurve curve = block_curve(scratch, ranked, treated, control, stream);
    double* running_max = scratch.take<double>(curve.blocks);
    double* sampled = scratch.take<double>(size_t(points) + 1);
    scratch.run_cub([&](void* temp, size_t& bytes) {
        return cub::DeviceScan::InclusiveScan(temp, bytes, curve.cost + 1, running_max, Larger(),
                                              curve.blocks, stream);
    });
    sample_kernel<<<grid_blocks(int64_t(points) + 1), kThreadsPerBlock, 0, stream>>>(
        curve.cost, curve.value, running_max, curve.blocks, points, sampled);
    CUDA_CHECK_LAUNCH("sample_kernel");

    DeviceAuccCurve out;
    out.sampled_value.resize(size_t(points) + 1);
    CUDA_CHECK(cudaMemcpyAsync(out.sampled_value.data(), sampled,
                               out.sampled_value.size() * sizeof(double), cudaMemcpyDeviceToHost,
                               stream));
    CUDA_CHECK(cudaMemcpyAsync(&out.total_cost, curve.cost + curve.blocks, sizeof(double),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaMemcpyAsync(&out.total_value, curve.value + curve.blocks, sizeof(double),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return out;
}

}  // namespace ca
