// Reference policies that frame every table: random allocation at a budget (the floor) and,
// on synthetic data, the oracle that knows each user's true response (the ceiling).
#pragma once

#include "core/allocation_method.h"

namespace ca {

// Treats a share q (the knob) of users, each with a uniformly drawn non-control arm. The draw
// hashes the user id, so a user's arm does not change with q and spend grows with q.
class RandomPolicy final : public AllocationMethod {
public:
    explicit RandomPolicy(uint64_t seed) : seed_(seed) {}
    std::string name() const override { return "random"; }
    void fit(MethodContext&) override {}
    void prepare(const Dataset& rows, Backend& backend) override;
    KnobRange knob_range() const override { return {0.0, 1.0, KnobDirection::kCostIncreases}; }
    void choose(double knob, std::vector<int32_t>& choice) const override;
    std::vector<double> treatment_scores() const override { return draw_; }

private:
    uint64_t seed_;
    int m_ = 0;
    std::vector<double> draw_;      ///< uniform in [0,1): treated when draw < q
    std::vector<int32_t> arm_;      ///< the arm given when treated
};

// Per-user Lagrangian on the true expected value and cost: argmax_j v_ij - lambda c_ij.
class OraclePolicy final : public AllocationMethod {
public:
    std::string name() const override { return "oracle"; }
    void fit(MethodContext&) override {}
    void prepare(const Dataset& rows, Backend& backend) override;
    KnobRange knob_range() const override {
        return {0.0, lambda_max_, KnobDirection::kCostDecreases};
    }
    void choose(double knob, std::vector<int32_t>& choice) const override;
    std::vector<double> treatment_scores() const override;

private:
    const Dataset* rows_ = nullptr;
    Backend* backend_ = nullptr;
    double lambda_max_ = 1.0;
};

/// Largest incremental value per unit of incremental cost over users and arms (against arm 0),
/// i.e. the lambda above which nobody is treated; at least 1e-9. value and cost are n x m.
double max_incremental_ratio(const float* value, const float* cost, int64_t n, int m);

/// A uniform number in [0,1) from a user id and a seed (splitmix64), stable across runs.
double hash_unit(uint64_t user_id, uint64_t seed);

}  // namespace ca
