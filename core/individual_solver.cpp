// Individual-level dual solver. The spend is a non-increasing step function of lambda, so a
// bracket [lo, hi] with spend(lo) > B >= spend(hi) is found by steps of 8x, then halved in log
// space; the answer is always taken at hi, so it never overspends.
#include "core/individual_solver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "core/log.h"

namespace ca {

IndividualSolverParams IndividualSolverParams::from_config(const ConfigNode& node) {
    node.allow_only({"relative_tolerance", "max_passes"});
    IndividualSolverParams params;
    params.relative_tolerance =
        node.number_in("relative_tolerance", params.relative_tolerance, 0.0, 1.0);
    params.max_passes = int(node.integer_in("max_passes", params.max_passes, 2, 100000));
    return params;
}

nlohmann::json IndividualSolverParams::to_json() const {
    return {{"relative_tolerance", relative_tolerance}, {"max_passes", max_passes}};
}

namespace {

// The backend evaluates lambda in float: brackets narrower than this cannot be told apart.
constexpr double kSmallestBracket = 1e-7;
// Past this lambda every user already sits on a cheapest arm for any realistic value scale.
constexpr double kLargestLambda = 1e30;

void check_shape(int64_t n, int m) {
    if (n < 0) CA_THROW(InputError, "individual solver: N must be >= 0, got " << n);
    if (m < 1) CA_THROW(InputError, "individual solver: M must be >= 1, got " << m);
}

// Checks every entry and returns the spend of every user on a cheapest arm, added in fixed
// blocks of users so the total does not depend on the thread count.
double check_matrices(const float* value, const float* cost, int64_t n, int m) {
    constexpr int64_t kBlockRows = 1 << 15;
    int64_t cells = n * m;
    int64_t first_bad = cells;
    const int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
    std::vector<double> block_totals(static_cast<size_t>(blocks), 0.0);
#pragma omp parallel for schedule(static) reduction(min : first_bad)
    for (int64_t b = 0; b < blocks; ++b) {
        double total = 0.0;
        for (int64_t i = b * kBlockRows; i < std::min(n, (b + 1) * kBlockRows); ++i) {
            float cheapest = std::numeric_limits<float>::infinity();
            for (int j = 0; j < m; ++j) {
                int64_t e = i * m + j;
                if (!std::isfinite(value[e]) || !std::isfinite(cost[e]) || cost[e] < 0.0f)
                    first_bad = std::min(first_bad, e);
                cheapest = std::min(cheapest, cost[e]);
            }
            total += cheapest;
        }
        block_totals[size_t(b)] = total;
    }
    double cheapest_total = 0.0;
    for (double total : block_totals) cheapest_total += total;
    if (first_bad < cells) {
        CA_THROW(InputError, "individual solver: user "
                                 << first_bad / m << " (0-based), arm " << first_bad % m
                                 << " has value " << value[first_bad] << " and cost "
                                 << cost[first_bad] << "; values must be finite and "
                                 << "costs finite and >= 0");
    }
    return cheapest_total;
}

// Every user on the cheapest arm (the most valuable among equally cheap, then lowest index).
IndividualAllocation cheapest_choices(const float* value, const float* cost, int64_t n, int m,
                                      double budget) {
    IndividualAllocation result;
    result.budget = budget;
    result.lambda = kLargestLambda;
    result.choices.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
        int best = 0;
        for (int j = 1; j < m; ++j) {
            float cj = cost[i * m + j], cb = cost[i * m + best];
            if (cj < cb || (cj == cb && value[i * m + j] > value[i * m + best])) best = j;
        }
        result.choices[size_t(i)] = best;
        result.value += value[i * m + best];
        result.cost += cost[i * m + best];
    }
    result.feasible = result.cost <= budget;
    return result;
}

class DualSearch {
  public:
    DualSearch(const float* value, const float* cost, int64_t n, int m, Backend& backend)
        : value_(value), cost_(cost), n_(n), m_(m), backend_(backend) {}

    DualPassResult spend_at(double lambda) {
        ++passes_;
        return backend_.dual_pass(value_, cost_, n_, m_, lambda, nullptr);
    }
    int passes() const { return passes_; }

  private:
    const float* value_;
    const float* cost_;
    int64_t n_;
    int m_;
    Backend& backend_;
    int passes_ = 0;
};

// spend(lo) > B >= spend(hi); lo = 0 until a positive lambda is known to overspend.
struct Bracket {
    double lo = 0.0, hi = 0.0;
    DualPassResult at_lo, at_hi;
};

// Steps of 8x up from 1 until the spend fits, or down while it still fits.
Bracket find_bracket(DualSearch& search, const DualPassResult& at_zero, double budget,
                     int max_passes) {
    Bracket bracket;
    bracket.at_lo = at_zero;
    bracket.hi = 1.0;
    bracket.at_hi = search.spend_at(bracket.hi);
    while (bracket.at_hi.cost > budget && bracket.hi < kLargestLambda &&
           search.passes() < max_passes) {
        bracket.lo = bracket.hi;
        bracket.at_lo = bracket.at_hi;
        bracket.hi *= 8.0;
        bracket.at_hi = search.spend_at(bracket.hi);
    }
    while (bracket.lo == 0.0 && bracket.hi > 1.0 / kLargestLambda && search.passes() < max_passes) {
        DualPassResult below = search.spend_at(bracket.hi / 8.0);
        if (below.cost > budget) {
            bracket.lo = bracket.hi / 8.0;
            bracket.at_lo = below;
        } else {
            bracket.hi /= 8.0;
            bracket.at_hi = below;
        }
    }
    return bracket;
}

// Narrows the bracket until spend(hi) is within the tolerance below B or the bracket is a
// jump of the spend. Steps interpolate the spend linearly in lambda toward the middle of the
// accepted window, with the Illinois rule (halve the weight of an end kept twice in a row) so
// one end cannot stall; that takes few passes when the spend is smooth, as with many users.
// A log-space bisection step follows any interpolation that failed to halve the bracket.
bool narrow_bracket(DualSearch& search, Bracket& bracket, double budget,
                    const IndividualSolverParams& params) {
    double accept = budget * (1.0 - params.relative_tolerance);
    double target = budget * (1.0 - 0.5 * params.relative_tolerance);
    double excess_lo = bracket.at_lo.cost - target, excess_hi = bracket.at_hi.cost - target;
    int last_kept = 0;  // +1: lo was kept by the last step, -1: hi was
    bool interpolate = true;
    while (search.passes() < params.max_passes) {
        if (bracket.at_hi.cost >= accept) return true;
        double width = bracket.hi - bracket.lo;
        if (width <= kSmallestBracket * bracket.hi) return true;
        double mid;
        if (interpolate && excess_lo > excess_hi) {
            double t = excess_lo / (excess_lo - excess_hi);
            mid = bracket.lo + std::min(0.99, std::max(0.01, t)) * width;
        } else {
            mid = bracket.lo > 0.0 ? std::sqrt(bracket.lo * bracket.hi) : 0.5 * bracket.hi;
        }
        DualPassResult at_mid = search.spend_at(mid);
        if (at_mid.cost > budget) {
            bracket.lo = mid;
            bracket.at_lo = at_mid;
            excess_lo = at_mid.cost - target;
            if (last_kept == -1) excess_hi *= 0.5;
            last_kept = -1;
        } else {
            bracket.hi = mid;
            bracket.at_hi = at_mid;
            excess_hi = at_mid.cost - target;
            if (last_kept == 1) excess_lo *= 0.5;
            last_kept = 1;
        }
        interpolate = !interpolate || bracket.hi - bracket.lo < 0.5 * width;
    }
    return false;
}

}  // namespace

IndividualAllocation allocate_at_lambda(const float* value, const float* cost, int64_t n, int m,
                                        double lambda, Backend& backend) {
    check_shape(n, m);
    if (!std::isfinite(lambda) || lambda < 0.0)
        CA_THROW(InputError, "individual solver: lambda must be finite and >= 0, got " << lambda);
    IndividualAllocation result;
    result.lambda = lambda;
    result.choices.resize(size_t(n));
    DualPassResult totals =
        n > 0 ? backend.dual_pass(value, cost, n, m, lambda, result.choices.data())
              : DualPassResult{};
    result.value = totals.value;
    result.cost = totals.cost;
    result.passes = 1;
    return result;
}

IndividualAllocation solve_individual(const float* value, const float* cost, int64_t n, int m,
                                      double budget, Backend& backend,
                                      const IndividualSolverParams& params) {
    check_shape(n, m);
    if (!std::isfinite(budget) || budget < 0.0)
        CA_THROW(InputError, "budget must be >= 0, got " << budget);
    double cheapest_total = check_matrices(value, cost, n, m);
    if (cheapest_total > budget) {
        IndividualAllocation result = cheapest_choices(value, cost, n, m, budget);
        std::ostringstream message;
        message << "individual solver: budget " << budget << " is below the cost " << result.cost
                << " of every user's cheapest arm; reporting those choices";
        log_warning(message.str());
        result.feasible = false;
        result.converged = false;
        return result;
    }

    DualSearch search(value, cost, n, m, backend);
    DualPassResult at_zero = search.spend_at(0.0);
    double hi = 0.0;
    bool converged = true;
    if (at_zero.cost > budget) {
        Bracket bracket = find_bracket(search, at_zero, budget, params.max_passes);
        converged = narrow_bracket(search, bracket, budget, params);
        hi = bracket.hi;
    }

    IndividualAllocation result = allocate_at_lambda(value, cost, n, m, hi, backend);
    result.budget = budget;
    result.passes = search.passes() + 1;
    if (result.cost > budget) {
        // The pass limit stopped the bracket search above every feasible lambda.
        result = cheapest_choices(value, cost, n, m, budget);
        result.passes = search.passes() + 1;
        converged = false;
    }
    result.converged = converged;
    if (!result.converged) {
        std::ostringstream message;
        message << "individual solver: stopped after " << result.passes << " passes at lambda "
                << hi << " with spend " << result.cost << " for budget " << budget;
        log_warning(message.str());
    }
    return result;
}

}  // namespace ca
