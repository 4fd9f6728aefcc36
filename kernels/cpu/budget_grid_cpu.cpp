// Reference Lagrangian pass over a budget grid: per budget, a bisection on lambda whose every
// step lets each cluster take its best arm at lambda and compares the total cost with B. The
// device kernel (kernels/cuda/budget_grid_kernels.cu) follows the same steps.
#include "kernels/cpu/budget_grid_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/errors.h"
#include "kernels/cpu/cpu_backend.h"

namespace ca {

namespace {

struct GridInput {
    const double* value;
    const double* cost;
    const double* population;
    int k;
    int m;
};

struct Totals {
    double value = 0.0;
    double cost = 0.0;
};

// The arm a cluster takes at lambda: the largest value - lambda * cost, fused so that the
// device computes the same bits; ties go to the cheaper arm, then to the lower index.
int arm_at(const double* v, const double* c, int m, double lambda) {
    int best = 0;
    double best_score = std::fma(-lambda, c[0], v[0]);
    for (int j = 1; j < m; ++j) {
        const double score = std::fma(-lambda, c[j], v[j]);
        if (score > best_score || (score == best_score && c[j] < c[best])) {
            best = j;
            best_score = score;
        }
    }
    return best;
}

Totals totals_at(const GridInput& in, double lambda) {
    Totals totals;
    for (int c = 0; c < in.k; ++c) {
        const size_t row = size_t(c) * size_t(in.m);
        const int arm = arm_at(in.value + row, in.cost + row, in.m, lambda);
        totals.value += in.population[c] * in.value[row + arm];
        totals.cost += in.population[c] * in.cost[row + arm];
    }
    return totals;
}

// The arm every cluster ends on as lambda grows: least cost, then most value, then lowest j.
int cheapest_arm(const double* v, const double* c, int m) {
    int best = 0;
    for (int j = 1; j < m; ++j)
        if (c[j] < c[best] || (c[j] == c[best] && v[j] > v[best])) best = j;
    return best;
}

// What every cluster's cheapest arm spends and earns, and the steepest first slope
// (value per unit of cost leaving the cheapest arm) of any populated cluster, at least 0.
struct CheapestPolicy {
    Totals totals;
    double steepest_slope = 0.0;
};

CheapestPolicy cheapest_policy(const GridInput& in) {
    CheapestPolicy policy;
    for (int c = 0; c < in.k; ++c) {
        const double* v = in.value + size_t(c) * size_t(in.m);
        const double* w = in.cost + size_t(c) * size_t(in.m);
        const int a = cheapest_arm(v, w, in.m);
        policy.totals.value += in.population[c] * v[a];
        policy.totals.cost += in.population[c] * w[a];
        if (!(in.population[c] > 0.0)) continue;
        for (int j = 0; j < in.m; ++j)
            if (w[j] > w[a])
                policy.steepest_slope =
                    std::max(policy.steepest_slope, (v[j] - v[a]) / (w[j] - w[a]));
    }
    return policy;
}

BudgetGridPoint solve_budget(const GridInput& in, const CheapestPolicy& cheapest, double budget,
                             double tolerance, const BudgetGridSearch& search) {
    const double limit = budget + tolerance;
    BudgetGridPoint point;
    const Totals at_zero = totals_at(in, 0.0);
    if (at_zero.cost <= limit) {
        point.value = point.bound = at_zero.value;
        point.cost = at_zero.cost;
        return point;
    }
    if (cheapest.totals.cost > limit) {
        point.lambda = 2.0 * cheapest.steepest_slope;
        point.value = point.bound = cheapest.totals.value;
        point.cost = cheapest.totals.cost;
        point.feasible = false;
        return point;
    }
    // Above the steepest slope every populated cluster sits on its cheapest arm; doubling only
    // guards against rounding at that slope.
    double low = 0.0, high = cheapest.steepest_slope > 0.0 ? 2.0 * cheapest.steepest_slope : 1.0;
    Totals at_high = totals_at(in, high);
    for (int doubling = 0; at_high.cost > limit && doubling < 64; ++doubling)
        at_high = totals_at(in, high *= 2.0);
    for (int step = 0; step < search.max_iterations; ++step) {
        const double middle = low + 0.5 * (high - low);
        if (!(middle > low && middle < high)) break;
        const Totals at_middle = totals_at(in, middle);
        if (at_middle.cost <= limit) {
            high = middle;
            at_high = at_middle;
        } else {
            low = middle;
        }
    }
    point.lambda = high;
    point.value = at_high.value;
    point.cost = at_high.cost;
    point.bound = at_high.value + high * (budget - at_high.cost);
    return point;
}

}  // namespace

void check_budget_grid_input(const double* value, const double* cost, const double* population,
                             int k, int m, const double* budgets, int count) {
    if (k < 1 || m < 1)
        CA_THROW(InputError, "budget grid: need K >= 1 and M >= 1, got K = " << k << ", M = " << m);
    if (count < 0) CA_THROW(InputError, "budget grid: " << count << " budgets; expected >= 0");
    for (int c = 0; c < k; ++c) {
        if (!std::isfinite(population[c]) || population[c] < 0.0)
            CA_THROW(InputError, "budget grid: population of cluster "
                                     << c << " is " << population[c] << "; expected a count >= 0");
        for (int j = 0; j < m; ++j) {
            const size_t at = size_t(c) * size_t(m) + size_t(j);
            if (!std::isfinite(value[at]))
                CA_THROW(InputError, "budget grid: cluster " << c << " arm " << j << " has value "
                                                             << value[at] << "; expected finite");
            if (!std::isfinite(cost[at]) || cost[at] < 0.0)
                CA_THROW(InputError, "budget grid: cluster " << c << " arm " << j << " has cost "
                                                             << cost[at]
                                                             << "; expected finite and >= 0");
        }
    }
    for (int b = 0; b < count; ++b)
        if (!std::isfinite(budgets[b]) || budgets[b] < 0.0)
            CA_THROW(InputError, "budget grid: budget " << b << " is " << budgets[b]
                                                        << "; expected finite and >= 0");
}

double budget_grid_tolerance(const double* cost, const double* population, int k, int m) {
    double scale = 0.0;
    for (int c = 0; c < k; ++c) {
        double largest = 0.0;
        for (int j = 0; j < m; ++j)
            largest = std::max(largest, population[c] * cost[size_t(c) * size_t(m) + size_t(j)]);
        scale += largest;
    }
    return 1e-12 * std::max(1.0, scale);
}

void cpu_budget_grid(const double* value, const double* cost, const double* population, int k,
                     int m, const double* budgets, int count, const BudgetGridSearch& search,
                     BudgetGridPoint* out) {
    const GridInput in{value, cost, population, k, m};
    const CheapestPolicy cheapest = cheapest_policy(in);
    const double tolerance = budget_grid_tolerance(cost, population, k, m);
    // Small grids run on one thread: starting the team costs more than their whole pass.
#pragma omp parallel for schedule(dynamic) if (double(count) * k * m > 1e5)
    for (int b = 0; b < count; ++b)
        out[b] = solve_budget(in, cheapest, budgets[b], tolerance, search);
}

void CpuBackend::budget_grid(const double* value, const double* cost, const double* population,
                             int k, int m, const double* budgets, int count,
                             const BudgetGridSearch& search, BudgetGridPoint* out) {
    check_budget_grid_input(value, cost, population, k, m, budgets, count);
    cpu_budget_grid(value, cost, population, k, m, budgets, count, search, out);
}

}  // namespace ca
