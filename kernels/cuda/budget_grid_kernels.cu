// The Lagrangian pass over a budget grid: block b bisects lambda for budget b, its threads
// stride over the clusters, and every total is a CUB block reduction broadcast through shared
// memory, so all threads take the same branch. Scores are fused multiply-adds as on the CPU,
// so both backends pick the same arms at the same lambda; only the sums' order differs.
#include <cub/block/block_reduce.cuh>

#include "kernels/cuda/budget_grid_kernels.cuh"
#include "kernels/cuda/cuda_check.cuh"

namespace ca {

namespace {

constexpr int kGridThreads = 256;

struct Totals {
    double value;
    double cost;
};

struct AddTotals {
    __device__ Totals operator()(const Totals& a, const Totals& b) const {
        return {a.value + b.value, a.cost + b.cost};
    }
};

struct Larger {
    __device__ double operator()(double a, double b) const { return a > b ? a : b; }
};

using TotalsReduce = cub::BlockReduce<Totals, kGridThreads>;
using MaxReduce = cub::BlockReduce<double, kGridThreads>;

// One block's scratch: CUB's storage and the slots that hand a reduced value to every thread.
struct BlockScratch {
    union {
        typename TotalsReduce::TempStorage totals;
        typename MaxReduce::TempStorage max;
    } reduce;
    Totals totals;
    double max;
};

__device__ Totals block_total(Totals mine, BlockScratch& scratch) {
    const Totals total = TotalsReduce(scratch.reduce.totals).Reduce(mine, AddTotals());
    if (threadIdx.x == 0) scratch.totals = total;
    __syncthreads();
    const Totals shared = scratch.totals;
    __syncthreads();  // the scratch is reused by the next reduction
    return shared;
}

__device__ double block_max(double mine, BlockScratch& scratch) {
    const double largest = MaxReduce(scratch.reduce.max).Reduce(mine, Larger());
    if (threadIdx.x == 0) scratch.max = largest;
    __syncthreads();
    const double shared = scratch.max;
    __syncthreads();
    return shared;
}

// The CPU rule (kernels/cpu/budget_grid_cpu.cpp): largest fused score, ties to the cheaper
// arm, then to the lower index.
__device__ int arm_at(const double* v, const double* c, int m, double lambda) {
    int best = 0;
    double best_score = fma(-lambda, c[0], v[0]);
    for (int j = 1; j < m; ++j) {
        const double score = fma(-lambda, c[j], v[j]);
        if (score > best_score || (score == best_score && c[j] < c[best])) {
            best = j;
            best_score = score;
        }
    }
    return best;
}

__device__ int cheapest_arm(const double* v, const double* c, int m) {
    int best = 0;
    for (int j = 1; j < m; ++j)
        if (c[j] < c[best] || (c[j] == c[best] && v[j] > v[best])) best = j;
    return best;
}

__device__ Totals totals_at(const DeviceClusterTable& table, double lambda, BlockScratch& scratch) {
    Totals mine{0.0, 0.0};
    for (int c = threadIdx.x; c < table.k; c += kGridThreads) {
        const size_t row = size_t(c) * size_t(table.m);
        const int arm = arm_at(table.value + row, table.cost + row, table.m, lambda);
        mine.value += table.population[c] * table.value[row + arm];
        mine.cost += table.population[c] * table.cost[row + arm];
    }
    return block_total(mine, scratch);
}

struct CheapestPolicy {
    Totals totals;
    double steepest_slope;
};

// Totals of every cluster's cheapest arm and the steepest first slope of a populated cluster.
__device__ CheapestPolicy cheapest_policy(const DeviceClusterTable& table, BlockScratch& scratch) {
    Totals mine{0.0, 0.0};
    double steepest = 0.0;
    for (int c = threadIdx.x; c < table.k; c += kGridThreads) {
        const double* v = table.value + size_t(c) * size_t(table.m);
        const double* w = table.cost + size_t(c) * size_t(table.m);
        const int a = cheapest_arm(v, w, table.m);
        mine.value += table.population[c] * v[a];
        mine.cost += table.population[c] * w[a];
        if (!(table.population[c] > 0.0)) continue;
        for (int j = 0; j < table.m; ++j)
            if (w[j] > w[a]) steepest = fmax(steepest, (v[j] - v[a]) / (w[j] - w[a]));
    }
    CheapestPolicy policy;
    policy.totals = block_total(mine, scratch);
    policy.steepest_slope = block_max(steepest, scratch);
    return policy;
}

__device__ void store(const DeviceGridPoints& out, double lambda, double bound, const Totals& at,
                      bool feasible) {
    if (threadIdx.x != 0) return;
    out.lambda[blockIdx.x] = lambda;
    out.bound[blockIdx.x] = bound;
    out.value[blockIdx.x] = at.value;
    out.cost[blockIdx.x] = at.cost;
    out.feasible[blockIdx.x] = feasible ? 1.0 : 0.0;
}

__global__ void __launch_bounds__(kGridThreads)
    budget_grid_kernel(DeviceClusterTable table, const double* budgets, double tolerance,
                       int max_iterations, DeviceGridPoints out) {
    __shared__ BlockScratch scratch;
    const double budget = budgets[blockIdx.x], limit = budget + tolerance;
    const Totals at_zero = totals_at(table, 0.0, scratch);
    if (at_zero.cost <= limit) {
        store(out, 0.0, at_zero.value, at_zero, true);
        return;
    }
    const CheapestPolicy cheapest = cheapest_policy(table, scratch);
    if (cheapest.totals.cost > limit) {
        store(out, 2.0 * cheapest.steepest_slope, cheapest.totals.value, cheapest.totals, false);
        return;
    }

    double low = 0.0, high = cheapest.steepest_slope > 0.0 ? 2.0 * cheapest.steepest_slope : 1.0;
    Totals at_high = totals_at(table, high, scratch);
    for (int doubling = 0; at_high.cost > limit && doubling < 64; ++doubling)
        at_high = totals_at(table, high *= 2.0, scratch);
    for (int step = 0; step < max_iterations; ++step) {
        const double middle = low + 0.5 * (high - low);
        if (!(middle > low && middle < high)) break;
        const Totals at_middle = totals_at(table, middle, scratch);
        if (at_middle.cost <= limit) {
            high = middle;
            at_high = at_middle;
        } else {
            low = middle;
        }
    }
    store(out, high, at_high.value + high * (budget - at_high.cost), at_high, true);
}

}  // namespace

void launch_budget_grid(const DeviceClusterTable& table, const double* budgets, int count,
                        double tolerance, int max_iterations, const DeviceGridPoints& out,
                        cudaStream_t stream) {
    if (count == 0) return;
    budget_grid_kernel<<<unsigned(count), kGridThreads, 0, stream>>>(table, budgets, tolerance,
                                                                     max_iterations, out);
    CUDA_CHECK_LAUNCH("budget_grid_kernel");
}

}  // namespace ca
