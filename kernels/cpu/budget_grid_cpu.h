// The Lagrangian pass over a budget grid on the CPU (the reference the device pass is checked
// against, and CpuBackend::budget_grid), plus the input checks and the budget tolerance both
// backends share.
#pragma once

#include "kernels/backend.h"

namespace ca {

/// InputError naming the first bad entry: K or M < 1, a non-finite value, a negative or
/// non-finite cost, population or budget, a negative budget count.
void check_budget_grid_input(const double* value, const double* cost, const double* population,
                             int k, int m, const double* budgets, int count);

/// Spend within this much of B counts as on budget: 1e-12 of sum_k max_j n_k cost_kj (at
/// least 1e-12), the tolerance of the exact LP (core/mckp_lp.h).
double budget_grid_tolerance(const double* cost, const double* population, int k, int m);

/// The reference pass, budget by budget (OpenMP over budgets); inputs already checked.
void cpu_budget_grid(const double* value, const double* cost, const double* population, int k,
                     int m, const double* budgets, int count, const BudgetGridSearch& search,
                     BudgetGridPoint* out);

}  // namespace ca
