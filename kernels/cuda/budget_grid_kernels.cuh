// Launcher of the Lagrangian pass over a budget grid: one block per budget bisects lambda with
// block reductions over the clusters. Device pointers; work is queued on the stream.
#pragma once

#include <cuda_runtime.h>

namespace ca {

// The K x M per-capita estimates and K populations the pass reads (device pointers).
struct DeviceClusterTable {
    const double* value = nullptr;
    const double* cost = nullptr;
    const double* population = nullptr;
    int k = 0;
    int m = 0;
};

// Per-budget results (device pointers, count entries each); feasible is 1 or 0.
struct DeviceGridPoints {
    double* lambda = nullptr;
    double* bound = nullptr;
    double* value = nullptr;
    double* cost = nullptr;
    double* feasible = nullptr;
};

/// One block per budget: the steps of kernels/cpu/budget_grid_cpu.cpp with a block reduction
/// for every total. tolerance is budget_grid_tolerance() of the table.
void launch_budget_grid(const DeviceClusterTable& table, const double* budgets, int count,
                        double tolerance, int max_iterations, const DeviceGridPoints& out,
                        cudaStream_t stream);

}  // namespace ca
