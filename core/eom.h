// Policy evaluation on RCT rows: the inverse-propensity-weighted expected outcome of a policy
// (EOM), budget matching by bisecting a method's own knob, and, on synthetic data, a policy's
// true value and the oracle that knows every user's true response.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/dataset.h"

namespace ca {

/// Where the IPW weights 1 / p_i came from.
enum class PropensitySource {
    kPerRow,   ///< the dataset's per-row propensity of the logged arm
    kArmShare  ///< the share of the logged arm among the evaluated rows
};
const char* propensity_source_name(PropensitySource source);

struct EomParams {
    /// Use the dataset's per-row propensities when it has them; false always uses arm shares.
    bool use_row_propensity = true;
    /// Clip per-row propensities into [clip_low, clip_high]. When false, a propensity outside
    /// (0, 1) is an InputError naming the rows, since 1 / p would be infinite or meaningless.
    bool clip_propensity = false;
    /// Lower clipping bound; keeps every IPW weight at most 1 / clip_low.
    double clip_low = 0.01;
    /// Upper clipping bound.
    double clip_high = 0.99;
};
/// Reads {"propensity": "row" | "arm_share", "clip_propensity", "clip_low", "clip_high"}.
EomParams parse_eom_params(const ConfigNode& node);

/// How a budget match ended.
enum class BudgetMatch {
    kMet,           ///< the IPW cost is at the target (the largest knob step not above it)
    kCannotSpend,   ///< even the most spending end of the knob range stays below the target
    kOverAtMinimum  ///< even the least spending end of the knob range is above the target
};

/// Per-capita IPW value and cost of one policy on the evaluation rows.
struct EomResult {
    double value = 0.0;   ///< (1/N) sum over rows with logged arm = choice of value_i / p_i
    double cost = 0.0;    ///< the same for cost_i
    double knob = 0.0;    ///< the knob the policy was evaluated at (eom_at_budget only)
    bool reached = true;  ///< false when the budget target could not be met (see status)
    BudgetMatch status = BudgetMatch::kMet;
    PropensitySource propensity_source = PropensitySource::kArmShare;
};

/// EOM of choices (N arms in [0, M), one per row). InputError on an empty dataset or, unless
/// clipping, on per-row propensities outside (0, 1) (the message lists file:line of each).
EomResult eom(const Dataset& data, const std::vector<int32_t>& choices,
              const EomParams& params = {});

/// A method's policy as a function of its budget knob: lambda for individual methods, the
/// programme's budget for HRC. It must return N choices.
using KnobPolicy = std::function<std::vector<int32_t>(double knob)>;

/// Whether the policy's spending grows or shrinks as its knob grows.
enum class KnobDirection {
    kCostIncreases,  ///< e.g. a budget
    kCostDecreases   ///< e.g. the Lagrange multiplier lambda
};

struct KnobRange {
    double low = 0.0;   ///< smallest knob value tried
    double high = 1.0;  ///< largest knob value tried
    KnobDirection direction = KnobDirection::kCostDecreases;
};

struct BudgetMatchParams {
    /// Bisection steps at most; each evaluates the policy once on all rows.
    int max_iterations = 60;
    /// Stop once |cost - target| <= relative_tolerance * target.
    double relative_tolerance = 1e-6;
    /// Propensity handling of every evaluation.
    EomParams eom;
};

/// Bisects the knob so that the policy's IPW cost per capita meets target_cost. IPW cost moves
/// in steps (and need not be monotone), so the answer is the knob nearest the target whose
/// cost does not exceed it. A policy that cannot spend the target reports its most spending
/// point with reached = false. InputError on a negative or non-finite target.
EomResult eom_at_budget(const Dataset& data, const KnobPolicy& policy, const KnobRange& range,
                        double target_cost, const BudgetMatchParams& params = {});

/// Mean true value and cost per capita of a policy under the synthetic truth.
struct TrueOutcome {
    double value = 0.0;
    double cost = 0.0;
};
/// InputError when the dataset carries no true responses.
TrueOutcome true_policy_value(const Dataset& data, const std::vector<int32_t>& choices);

/// The individual optimum on the truth: each user picks argmax_j true_value - lambda *
/// true_cost (ties to the cheaper arm), lambda bisected so that the mean true cost meets the
/// target. Being Lagrangian it lands on the convex hull of each user's options; between hull
/// vertices the exact integer optimum may be higher by about one user's contribution.
struct OracleResult {
    double value = 0.0;            ///< mean true value per capita
    double cost = 0.0;             ///< mean true cost per capita (<= target when reached)
    double lambda = 0.0;           ///< the multiplier found
    bool reached = true;           ///< false when spending everything useful stays below target
    std::vector<int32_t> choices;  ///< N chosen arms
};
OracleResult oracle_at_budget(const Dataset& data, double target_cost, int max_iterations = 100);

}  // namespace ca
