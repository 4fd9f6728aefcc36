// Predictions -> per-user Lagrangian allocation, for TSM-SL and the decision-focused methods.
#include "baselines/predicted_lagrangian.h"

#include <algorithm>

#include "core/individual_solver.h"
#include "core/mlp.h"
#include "core/multitask_network.h"
#include "core/rank_gather.h"
#include "core/reference_policies.h"

namespace ca {

void PredictedLagrangian::prepare(const MultiTaskNetwork& network, const Dataset& rows,
                                  Backend& backend, Communicator& comm) {
    backend_ = &backend;
    n_ = rows.n;
    m_ = rows.m;
    // Value and cost side by side per row, so one pass of the network gives both.
    std::vector<float> both = rows_over_ranks<float>(
        n_, MlpLayout::kInferenceBlockRows, 2 * int64_t(m_), comm,
        [&](int64_t first, int64_t count, float* out) {
            std::vector<float> value(size_t(count) * m_), cost(value.size());
            network.predict(rows.row(first), count, backend, value.data(), cost.data());
            for (int64_t i = 0; i < count; ++i) {
                std::copy_n(value.data() + i * m_, m_, out + i * 2 * m_);
                std::copy_n(cost.data() + i * m_, m_, out + i * 2 * m_ + m_);
            }
        });
    value_.resize(size_t(n_) * m_);
    cost_.resize(size_t(n_) * m_);
    for (int64_t i = 0; i < n_; ++i) {
        std::copy_n(both.data() + i * 2 * m_, m_, value_.data() + i * m_);
        std::copy_n(both.data() + i * 2 * m_ + m_, m_, cost_.data() + i * m_);
    }
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
