// The budgeted allocation per user, for predicted N x M value and cost matrices: bisection on
// the Lagrange multiplier lambda, each user taking argmax_j value_ij - lambda cost_ij (lowest j
// on ties) through the backend's dual pass. Also the serving path: choices at a given lambda.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/config.h"
#include "kernels/backend.h"

namespace ca {

struct IndividualSolverParams {
    /// Stop once the spend is within this share of B below B.
    double relative_tolerance = 1e-4;
    /// Dual passes at most, bracket search included; the search never runs longer.
    int max_passes = 100;

    /// Reads an object with the two keys above; unknown keys are ConfigErrors.
    static IndividualSolverParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

struct IndividualAllocation {
    /// B (solve_individual) or 0 (allocate_at_lambda).
    double budget = 0.0;
    /// The multiplier the choices were made at; 0 when the budget does not bind.
    double lambda = 0.0;
    /// N chosen arms.
    std::vector<int32_t> choices;
    /// Summed value and cost of the choices.
    double value = 0.0;
    double cost = 0.0;
    /// Dual passes run.
    int passes = 0;
    /// False when B is below the cheapest choice of every user; choices are then those.
    bool feasible = true;
    /// True when the spend came within the tolerance of B, or B sits in a jump of the spend
    /// (no lambda spends closer), or the budget does not bind.
    bool converged = true;
};

/// Largest-value choices with cost <= B among the Lagrangian solutions. value and cost are
/// N x M row-major. Throws InputError for B < 0, non-finite entries or negative costs.
IndividualAllocation solve_individual(const float* value, const float* cost, int64_t n, int m,
                                      double budget, Backend& backend,
                                      const IndividualSolverParams& params = {});

/// The serving path: every user's argmax_j value - lambda cost at a fixed lambda >= 0.
IndividualAllocation allocate_at_lambda(const float* value, const float* cost, int64_t n, int m,
                                        double lambda, Backend& backend);

}  // namespace ca
