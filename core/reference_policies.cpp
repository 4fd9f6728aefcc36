// Random and oracle reference policies.
#include "core/reference_policies.h"

#include <algorithm>

#include "core/errors.h"

namespace ca {

double hash_unit(uint64_t user_id, uint64_t seed) {
    uint64_t z = user_id + seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return double(z >> 11) * (1.0 / 9007199254740992.0);
}

void RandomPolicy::prepare(const Dataset& rows, Backend&) {
    m_ = rows.m;
    draw_.resize(rows.n);
    arm_.resize(rows.n);
    for (int64_t i = 0; i < rows.n; ++i) {
        uint64_t id = rows.user_id.empty() ? uint64_t(i) : uint64_t(rows.user_id[i]);
        draw_[i] = hash_unit(id, seed_);
        double pick = hash_unit(id, seed_ + 1);
        arm_[i] = 1 + std::min(int(pick * (m_ - 1)), m_ - 2);
    }
}

void RandomPolicy::choose(double knob, std::vector<int32_t>& choice) const {
    choice.resize(draw_.size());
    for (size_t i = 0; i < draw_.size(); ++i) choice[i] = draw_[i] < knob ? arm_[i] : 0;
}

double max_incremental_ratio(const float* value, const float* cost, int64_t n, int m) {
    double best = 1e-9;
    for (int64_t i = 0; i < n; ++i) {
        for (int j = 1; j < m; ++j) {
            double extra_cost = double(cost[i * m + j]) - cost[i * m];
            double extra_value = double(value[i * m + j]) - value[i * m];
            if (extra_cost > 1e-12) best = std::max(best, extra_value / extra_cost);
        }
    }
    return best;
}

void OraclePolicy::prepare(const Dataset& rows, Backend& backend) {
    if (!rows.has_truth())
        throw InputError("the oracle policy needs the true responses (synthetic data only)");
    rows_ = &rows;
    backend_ = &backend;
    lambda_max_ = max_incremental_ratio(rows.true_value.data(), rows.true_cost.data(), rows.n,
                                        rows.m) * 1.01;
}

void OraclePolicy::choose(double knob, std::vector<int32_t>& choice) const {
    choice.resize(rows_->n);
    backend_->dual_pass(rows_->true_value.data(), rows_->true_cost.data(), rows_->n, rows_->m,
                        knob, choice.data());
}

std::vector<double> OraclePolicy::treatment_scores() const {
    if (rows_->m != 2) return {};
    std::vector<double> scores(rows_->n);
    for (int64_t i = 0; i < rows_->n; ++i) {
        double extra_cost = rows_->true_cost[i * 2 + 1] - rows_->true_cost[i * 2];
        double extra_value = rows_->true_value[i * 2 + 1] - rows_->true_value[i * 2];
        scores[i] = extra_cost > 1e-12 ? extra_value / extra_cost : extra_value * 1e12;
    }
    return scores;
}

}  // namespace ca
