// EOM by inverse propensity weighting, knob bisection for budget matching, and the synthetic
// truth: a policy's true value and the Lagrangian oracle, each a plain loop over users.
#include "core/eom.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/errors.h"
#include "core/log.h"

namespace ca {

namespace {

struct InverseWeights {
    std::vector<double> weight;  ///< N values 1 / p_i
    PropensitySource source = PropensitySource::kArmShare;
};

void check_evaluation_rows(const Dataset& data) {
    if (data.n <= 0) CA_THROW(InputError, data.source << ": no rows to evaluate a policy on");
    CA_ASSERT_MSG(int64_t(data.arm.size()) == data.n && int64_t(data.value.size()) == data.n &&
                      int64_t(data.cost.size()) == data.n,
                  "dataset columns do not all have " << data.n << " rows");
}

void check_choices(const Dataset& data, const std::vector<int32_t>& choices) {
    CA_ASSERT_MSG(int64_t(choices.size()) == data.n,
                  "policy gave " << choices.size() << " choices for " << data.n << " rows");
    for (size_t i = 0; i < choices.size(); ++i)
        CA_ASSERT_MSG(choices[i] >= 0 && choices[i] < data.m,
                      "choice " << choices[i] << " of row " << i << " is not an arm of " << data.m);
}

std::string row_location(const Dataset& data, int64_t row) {
    if (int64_t(data.source_line.size()) == data.n)
        return data.source + ":" + std::to_string(data.source_line[row]);
    return data.source + ": data row " + std::to_string(row + 1);
}

// Every per-row propensity must lie in (0, 1); list the first offenders by file and line.
void reject_bad_propensities(const Dataset& data) {
    const int64_t max_listed = 5;
    int64_t bad = 0;
    std::ostringstream listing;
    for (int64_t i = 0; i < data.n; ++i) {
        double p = data.propensity[i];
        if (p > 0.0 && p < 1.0) continue;
        if (bad < max_listed)
            listing << (bad ? ", " : "") << row_location(data, i) << " (p=" << p << ")";
        ++bad;
    }
    if (bad == 0) return;
    CA_THROW(InputError, "propensity of the logged arm must lie in (0, 1), but "
                             << bad << " row(s) do not: " << listing.str()
                             << (bad > max_listed ? ", ..." : "")
                             << "; fix the data, or enable clip_propensity to clip into "
                                "[clip_low, clip_high]");
}

InverseWeights row_propensity_weights(const Dataset& data, const EomParams& params) {
    CA_ASSERT_MSG(int64_t(data.propensity.size()) == data.n, "propensity column size");
    if (!params.clip_propensity) reject_bad_propensities(data);
    InverseWeights out;
    out.source = PropensitySource::kPerRow;
    out.weight.resize(data.n);
    int64_t clipped = 0;
    for (int64_t i = 0; i < data.n; ++i) {
        double p = data.propensity[i];
        if (std::isnan(p))
            CA_THROW(InputError, row_location(data, i) << ": propensity is NaN; expected a "
                                                          "probability in (0, 1)");
        double kept = std::min(std::max(p, params.clip_low), params.clip_high);
        clipped += kept != p;
        out.weight[i] = 1.0 / kept;
    }
    if (clipped > 0)
        log_warning(data.source + ": " + std::to_string(clipped) + " propensities clipped into [" +
                    std::to_string(params.clip_low) + ", " + std::to_string(params.clip_high) +
                    "] for IPW");
    return out;
}

InverseWeights arm_share_weights(const Dataset& data) {
    std::vector<int64_t> counts(data.m, 0);
    for (int32_t a : data.arm) {
        CA_ASSERT_MSG(a >= 0 && a < data.m, "logged arm " << a << " outside [0, " << data.m << ")");
        counts[a] += 1;
    }
    InverseWeights out;
    out.source = PropensitySource::kArmShare;
    out.weight.resize(data.n);
    for (int64_t i = 0; i < data.n; ++i)
        out.weight[i] = double(data.n) / double(counts[data.arm[i]]);
    return out;
}

InverseWeights inverse_propensity_weights(const Dataset& data, const EomParams& params) {
    check_evaluation_rows(data);
    CA_ASSERT_MSG(
        params.clip_low > 0 && params.clip_low < params.clip_high && params.clip_high <= 1,
        "clip bounds [" << params.clip_low << ", " << params.clip_high << "]");
    if (params.use_row_propensity && !data.propensity.empty())
        return row_propensity_weights(data, params);
    return arm_share_weights(data);
}

EomResult weighted_outcome(const Dataset& data, const InverseWeights& weights,
                           const std::vector<int32_t>& choices) {
    check_choices(data, choices);
    double value = 0.0, cost = 0.0;
    for (int64_t i = 0; i < data.n; ++i) {
        if (data.arm[i] != choices[i]) continue;
        value += weights.weight[i] * data.value[i];
        cost += weights.weight[i] * data.cost[i];
    }
    EomResult out;
    out.value = value / double(data.n);
    out.cost = cost / double(data.n);
    out.propensity_source = weights.source;
    return out;
}

void check_target(double target_cost) {
    if (!std::isfinite(target_cost) || target_cost < 0)
        CA_THROW(InputError,
                 "target cost per capita must be a finite number >= 0, got " << target_cost);
}

bool close_to_target(double cost, double target, double relative_tolerance) {
    return std::fabs(target - cost) <= relative_tolerance * target;
}

// Each user's argmax_j (true_value - lambda * true_cost), ties to the cheaper arm.
TrueOutcome choose_at_lambda(const Dataset& data, double lambda, std::vector<int32_t>& choices) {
    choices.resize(data.n);
    double value = 0.0, cost = 0.0;
    for (int64_t i = 0; i < data.n; ++i) {
        const float* tv = data.true_value.data() + i * data.m;
        const float* tc = data.true_cost.data() + i * data.m;
        int best = 0;
        double best_score = tv[0] - lambda * tc[0];
        for (int j = 1; j < data.m; ++j) {
            double score = tv[j] - lambda * tc[j];
            if (score > best_score || (score == best_score && tc[j] < tc[best])) {
                best = j;
                best_score = score;
            }
        }
        choices[i] = best;
        value += tv[best];
        cost += tc[best];
    }
    return {value / double(data.n), cost / double(data.n)};
}

void check_truth(const Dataset& data) {
    if (!data.has_truth())
        CA_THROW(InputError, data.source << ": the dataset has no true responses (only "
                                            "synthetic data carries them)");
    CA_ASSERT(int64_t(data.true_value.size()) == data.n * data.m &&
              data.true_cost.size() == data.true_value.size());
    if (data.n <= 0) CA_THROW(InputError, data.source << ": no rows to evaluate a policy on");
}

OracleResult oracle_point(const Dataset& data, double lambda, bool reached) {
    OracleResult out;
    TrueOutcome outcome = choose_at_lambda(data, lambda, out.choices);
    out.value = outcome.value;
    out.cost = outcome.cost;
    out.lambda = lambda;
    out.reached = reached;
    return out;
}

}  // namespace

const char* propensity_source_name(PropensitySource source) {
    return source == PropensitySource::kPerRow ? "per-row propensity" : "arm share";
}

EomParams parse_eom_params(const ConfigNode& node) {
    node.allow_only({"propensity", "clip_propensity", "clip_low", "clip_high"});
    EomParams params;
    params.use_row_propensity = node.choice("propensity", "row", {"row", "arm_share"}) == "row";
    params.clip_propensity = node.boolean("clip_propensity", params.clip_propensity);
    params.clip_low = node.number_in("clip_low", params.clip_low, 1e-9, 0.5);
    params.clip_high = node.number_in("clip_high", params.clip_high, 0.5, 1.0);
    if (params.clip_low >= params.clip_high)
        node.fail("clip_low", "must be below clip_high (" + std::to_string(params.clip_high) +
                                  "), got " + std::to_string(params.clip_low));
    return params;
}

EomResult eom(const Dataset& data, const std::vector<int32_t>& choices, const EomParams& params) {
    return weighted_outcome(data, inverse_propensity_weights(data, params), choices);
}

EomResult eom_at_budget(const Dataset& data, const KnobPolicy& policy, const KnobRange& range,
                        double target_cost, const BudgetMatchParams& params) {
    check_target(target_cost);
    CA_ASSERT_MSG(std::isfinite(range.low) && std::isfinite(range.high) && range.low < range.high,
                  "knob range [" << range.low << ", " << range.high << "]");
    InverseWeights weights = inverse_propensity_weights(data, params.eom);
    auto evaluate = [&](double knob) {
        EomResult point = weighted_outcome(data, weights, policy(knob));
        point.knob = knob;
        return point;
    };
    bool increasing = range.direction == KnobDirection::kCostIncreases;
    double most_spending = increasing ? range.high : range.low;
    double least_spending = increasing ? range.low : range.high;

    // The target may lie outside what the knob range can spend.
    EomResult top = evaluate(most_spending);
    if (top.cost <= target_cost) {
        top.reached = close_to_target(top.cost, target_cost, params.relative_tolerance);
        top.status = top.reached ? BudgetMatch::kMet : BudgetMatch::kCannotSpend;
        return top;
    }
    EomResult feasible = evaluate(least_spending);
    if (feasible.cost > target_cost) {
        log_warning("budget matching: IPW cost " + std::to_string(feasible.cost) +
                    " at the least spending knob already exceeds the target " +
                    std::to_string(target_cost));
        feasible.reached = false;
        feasible.status = BudgetMatch::kOverAtMinimum;
        return feasible;
    }

    // Bisect keeping one knob at or below the target and one above it.
    double over_knob = most_spending;
    for (int it = 0; it < params.max_iterations; ++it) {
        if (close_to_target(feasible.cost, target_cost, params.relative_tolerance)) break;
        EomResult middle = evaluate(0.5 * (feasible.knob + over_knob));
        if (middle.cost <= target_cost) {
            feasible = middle;
        } else {
            over_knob = middle.knob;
        }
    }
    return feasible;
}

TrueOutcome true_policy_value(const Dataset& data, const std::vector<int32_t>& choices) {
    check_truth(data);
    check_choices(data, choices);
    double value = 0.0, cost = 0.0;
    for (int64_t i = 0; i < data.n; ++i) {
        value += data.true_value[i * data.m + choices[i]];
        cost += data.true_cost[i * data.m + choices[i]];
    }
    return {value / double(data.n), cost / double(data.n)};
}

OracleResult oracle_at_budget(const Dataset& data, double target_cost, int max_iterations) {
    check_truth(data);
    check_target(target_cost);
    const double tolerance = 1e-9;

    // lambda = 0 spends on everything that adds value; if that fits, it is the optimum.
    OracleResult free = oracle_point(data, 0.0, true);
    if (free.cost <= target_cost) {
        free.reached = close_to_target(free.cost, target_cost, tolerance);
        return free;
    }

    // Grow lambda until the cost fits, then bisect between the two last values.
    double over = 0.0, under = 1.0;
    OracleResult best = oracle_point(data, under, true);
    for (int doubling = 0; best.cost > target_cost && doubling < 200; ++doubling) {
        over = under;
        under *= 2.0;
        best = oracle_point(data, under, true);
    }
    if (best.cost > target_cost) {
        best.reached = false;
        return best;
    }
    for (int it = 0; it < max_iterations; ++it) {
        if (close_to_target(best.cost, target_cost, tolerance) || under - over <= 1e-15 * under)
            break;
        OracleResult middle = oracle_point(data, 0.5 * (over + under), true);
        if (middle.cost <= target_cost) {
            under = middle.lambda;
            best = std::move(middle);
        } else {
            over = middle.lambda;
        }
    }
    return best;
}

}  // namespace ca
