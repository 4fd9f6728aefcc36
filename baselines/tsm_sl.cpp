// TSM-SL: predictions of the shared network, allocation by the per-user Lagrangian.
#include "baselines/tsm_sl.h"

#include "core/errors.h"
#include "core/individual_solver.h"
#include "core/multitask_network.h"
#include "core/reference_policies.h"

namespace ca {

void TsmSlMethod::fit(MethodContext& context) { network_ = &context.shared_network(); }

void TsmSlMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(network_ != nullptr, "prepare() before fit()");
    backend_ = &backend;
    n_ = rows.n;
    m_ = rows.m;
    value_.resize(size_t(n_) * m_);
    cost_.resize(size_t(n_) * m_);
    network_->predict(rows.x.data(), n_, backend, value_.data(), cost_.data());
    // Predicted costs are clamped at 0: a negative cost would read as income to the solver.
    for (float& c : cost_) c = c < 0.0f ? 0.0f : c;
    lambda_max_ = max_incremental_ratio(value_.data(), cost_.data(), n_, m_) * 1.01;
}

KnobRange TsmSlMethod::knob_range() const {
    return {0.0, lambda_max_, KnobDirection::kCostDecreases};
}

void TsmSlMethod::choose(double knob, std::vector<int32_t>& choice) const {
    IndividualAllocation allocation =
        allocate_at_lambda(value_.data(), cost_.data(), n_, m_, knob, *backend_);
    choice = std::move(allocation.choices);
}

std::vector<double> TsmSlMethod::treatment_scores() const {
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
