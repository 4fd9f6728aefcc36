// TSM-CF: causal forests per treated arm for incremental value and cost, then the per-user
// Lagrangian over arms with control fixed at 0.
#include "baselines/tsm_cf.h"

#include <algorithm>
#include <cstdio>

#include "core/errors.h"
#include "core/individual_solver.h"
#include "core/log.h"
#include "core/reference_policies.h"

namespace ca {

TsmCfParams TsmCfParams::from_config(const ConfigNode& root) {
    TsmCfParams params;
    params.forest = CausalForestParams::from_config(root.child("baselines").child("tsm_cf"));
    return params;
}

nlohmann::json TsmCfParams::to_json() const { return forest.to_json(); }

namespace {

// The rows of one comparison, arm j against control, copied out so both of its forests
// train on contiguous rows.
struct Comparison {
    int64_t n = 0;
    std::vector<float> x;
    std::vector<uint8_t> treated;
    std::vector<float> value;
    std::vector<float> cost;
};

Comparison comparison_rows(const Dataset& data, int arm) {
    Comparison rows;
    for (int64_t i = 0; i < data.n; ++i) {
        int32_t logged = data.arm[size_t(i)];
        if (logged != 0 && logged != arm) continue;
        rows.x.insert(rows.x.end(), data.row(i), data.row(i) + data.d);
        rows.treated.push_back(logged == arm ? 1 : 0);
        rows.value.push_back(data.value[size_t(i)]);
        rows.cost.push_back(data.cost[size_t(i)]);
        ++rows.n;
    }
    return rows;
}

std::string arm_label(const Dataset& data, int arm) {
    if (size_t(arm) < data.arm_names.size()) return data.arm_names[size_t(arm)];
    return std::to_string(arm);
}

void check_arms_present(const Dataset& train) {
    if (train.m < 2)
        CA_THROW(InputError, "TSM-CF: " << train.source << " has " << train.m
                                        << " arm(s); a control and at least one treated arm "
                                           "are needed");
    std::vector<int64_t> counts = train.arm_counts();
    for (int j = 0; j < train.m; ++j) {
        if (counts[size_t(j)] == 0)
            CA_THROW(InputError, "TSM-CF: arm \"" << arm_label(train, j) << "\" has no rows in "
                                                  << "the training split of " << train.source);
    }
}

void log_forest(const ForestRecord& record, const std::string& arm_name) {
    char line[200];
    std::snprintf(line, sizeof(line),
                  "TSM-CF: %s forest, arm %s vs control: %d trees, %.1f leaves per tree, "
                  "%.1f rows per leaf, %.2f s",
                  record.outcome.c_str(), arm_name.c_str(), record.trees, record.mean_leaves,
                  record.mean_leaf_rows, record.seconds);
    log_info(line);
}

}  // namespace

void TsmCfMethod::fit(MethodContext& context) {
    comm_ = context.communicator;
    const Dataset& train = context.train;
    check_arms_present(train);
    double start = wall_seconds();
    m_ = train.m;
    value_forests_.clear();
    cost_forests_.clear();
    records_.clear();

    for (int arm = 1; arm < m_; ++arm) {
        Comparison rows = comparison_rows(train, arm);
        for (int outcome = 0; outcome < 2; ++outcome) {
            CausalForestParams forest_params = params_.forest;
            forest_params.seed = params_.forest.seed + context.seed + uint64_t(records_.size());
            auto forest = std::make_unique<CausalForest>(forest_params);
            const std::vector<float>& y = outcome == 0 ? rows.value : rows.cost;
            double forest_start = wall_seconds();
            try {
                forest->fit(rows.x.data(), rows.n, train.d, rows.treated.data(), y.data(),
                            *context.communicator);
            } catch (const InputError& error) {
                CA_THROW(InputError, "TSM-CF, arm \"" << arm_label(train, arm)
                                                      << "\" vs control: " << error.what());
            }
            ForestRecord record{arm,
                                outcome == 0 ? "value" : "cost",
                                forest_params.trees,
                                forest->mean_leaves(),
                                forest->mean_leaf_rows(),
                                wall_seconds() - forest_start};
            log_forest(record, arm_label(train, arm));
            records_.push_back(record);
            (outcome == 0 ? value_forests_ : cost_forests_).push_back(std::move(forest));
        }
    }
    fit_seconds_ = wall_seconds() - start;
}

void TsmCfMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(!value_forests_.empty(), "prepare() before fit()");
    if (rows.m != m_ || rows.d != value_forests_[0]->features())
        CA_THROW(InputError, "TSM-CF: fitted on "
                                 << m_ << " arms and " << value_forests_[0]->features()
                                 << " features, asked to allocate rows with " << rows.m
                                 << " arms and " << rows.d);
    backend_ = &backend;
    n_ = rows.n;
    value_.assign(size_t(n_) * size_t(m_), 0.0f);
    cost_.assign(size_t(n_) * size_t(m_), 0.0f);
    for (int arm = 1; arm < m_; ++arm) {
        ForestPrediction value =
            value_forests_[size_t(arm - 1)]->predict(rows.x.data(), n_, *comm_);
        ForestPrediction cost = cost_forests_[size_t(arm - 1)]->predict(rows.x.data(), n_, *comm_);
        for (int64_t i = 0; i < n_; ++i) {
            size_t at = size_t(i) * size_t(m_) + size_t(arm);
            value_[at] = float(value.effect[size_t(i)]);
            // Clamped at 0: a negative incremental cost would read as income to the solver.
            cost_[at] = float(std::max(0.0, cost.effect[size_t(i)]));
        }
    }
    lambda_max_ = max_incremental_ratio(value_.data(), cost_.data(), n_, m_) * 1.01;
}

KnobRange TsmCfMethod::knob_range() const {
    return {0.0, lambda_max_, KnobDirection::kCostDecreases};
}

void TsmCfMethod::choose(double knob, std::vector<int32_t>& choice) const {
    CA_ASSERT_MSG(backend_ != nullptr, "choose() before prepare()");
    IndividualAllocation allocation =
        allocate_at_lambda(value_.data(), cost_.data(), n_, m_, knob, *backend_);
    choice = std::move(allocation.choices);
}

std::vector<double> TsmCfMethod::treatment_scores() const {
    if (m_ != 2) return {};
    std::vector<double> scores(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) {
        double extra_value = value_[size_t(i) * 2 + 1];
        double extra_cost = cost_[size_t(i) * 2 + 1];
        scores[size_t(i)] = extra_cost > 1e-12 ? extra_value / extra_cost : extra_value * 1e12;
    }
    return scores;
}

nlohmann::json TsmCfMethod::diagnostics() const {
    nlohmann::json forests = nlohmann::json::array();
    int trees = 0;
    double leaf_rows = 0.0;
    for (const ForestRecord& record : records_) {
        forests.push_back({{"arm", record.arm},
                           {"outcome", record.outcome},
                           {"trees", record.trees},
                           {"mean_leaves", record.mean_leaves},
                           {"mean_leaf_rows", record.mean_leaf_rows},
                           {"seconds", record.seconds}});
        trees += record.trees;
        leaf_rows += record.mean_leaf_rows;
    }
    double mean_leaf_rows = records_.empty() ? 0.0 : leaf_rows / double(records_.size());
    return {{"trees", trees},
            {"mean_leaf_rows", mean_leaf_rows},
            {"fit_seconds", fit_seconds_},
            {"forests", forests},
            {"params", params_.to_json()}};
}

}  // namespace ca
