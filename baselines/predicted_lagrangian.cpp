// Predictions -> per-user Lagrangian allocation, for TSM-SL and the decision-focused methods.
#include "baselines/predicted_lagrangian.h"

#include <algorithm>

#include "core/individual_solver.h"
#include "core/multitask_network.h"
#include "core/reference_policies.h"

namespace ca {

void PredictedLagrangian::prepare(const MultiTaskNetwork& network, const Dataset& rows,
                                  Backend& backend) {
    backend_ = &backend;
    n_ = rows.n;
    m_ = rows.m;
    value_.resize(size_t(n_) * m_);
    cost_.resize(size_t(n_) * m_);
    network.predict(rows.x.data(), n_, backend, value_.data(), cost_.data());
    for (float& c : cost_) c = std::max(c, 0.0f);
    lambda_max_ = max_incremental_ratio(value_.data(), cost_.data(), n_, m_) * 1.01;
}

KnobRange PredictedLagrangian::knob_range() const {
    return {0.0, lambda_max_, KnobDirection::kCostDecreases};
}

void PredictedLagrangian::choose(double lambda, std::vector<int32_t>& choice) const {
    IndividualAllocation allocation =
        allocate_at_lambda(value_.data(), cost_.data(), n_, m_, lambda, *backend_);
    choice = std::move(allocation.choices);
}

std::vector<double> PredictedLagrangian::treatment_scores() const {
    if (m_ != 2) return {};
    std::vector<double> scores(n_);
    for (int64_t i = 0; i < n_; ++i) {
        double extra_value = double(value_[i * 2 + 1]) - value_[i * 2];
        double extra_cost = double(cost_[i * 2 + 1]) - cost_[i * 2];
        scores[i] = extra_cost > 1e-12 ? extra_value / extra_cost : extra_value * 1e12;
    }
    return scores;
}

}  // namespace ca
