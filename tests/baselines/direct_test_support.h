// Shared set-up of the direct baselines' tests: a synthetic RCT split into train, validation and
// test rows, a small shared multi-task network, and the budget evaluation of the harness (the
// method's knob bisected so that its IPW cost on the test rows meets each budget).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/allocation_method.h"
#include "core/eom.h"
#include "core/multitask_network.h"
#include "core/reference_policies.h"
#include "core/synthetic_generator.h"
#include "kernels/backend.h"

namespace ca::testing_support {

struct SyntheticSplit {
    Dataset train, validation, test;
};

// One generated table (one response model) cut into consecutive train / validation / test rows.
inline SyntheticSplit synthetic_split(int arms, int64_t train_rows, int64_t validation_rows,
                                      int64_t test_rows, uint64_t seed,
                                      SyntheticValue value = SyntheticValue::kGmv) {
    SyntheticParams params;
    params.rows = train_rows + validation_rows + test_rows;
    params.features = 8;
    params.arms = arms;
    params.seed = seed;
    params.value = value;
    Dataset all = generate_synthetic(params);
    auto range = [&](int64_t first, int64_t count) {
        std::vector<int64_t> rows(count);
        for (int64_t k = 0; k < count; ++k) rows[k] = first + k;
        return all.subset(rows);
    };
    return {range(0, train_rows), range(train_rows, validation_rows),
            range(train_rows + validation_rows, test_rows)};
}

inline MultiTaskNetworkParams small_network_params() {
    MultiTaskNetworkParams params;
    params.hidden1 = 32;
    params.hidden2 = 16;
    params.head_hidden = 16;
    params.batch_size = 256;
    params.max_epochs = 20;
    params.patience = 3;
    params.learning_rate = 3e-3;
    return params;
}

// A MethodContext whose shared network is trained on first use, as the harness does it.
class SharedContext {
  public:
    explicit SharedContext(const SyntheticSplit& split, uint64_t seed = 0)
        : split_(split), context_{split.train, split.validation, cpu_backend(), seed, nullptr} {
        context_.shared_network = [this]() -> const MultiTaskNetwork& {
            if (!network_) {
                network_ = std::make_unique<MultiTaskNetwork>(small_network_params(),
                                                              split_.train.d, split_.train.m,
                                                              int(split_.train.aux.size()));
                network_->fit(split_.train, split_.validation, cpu_backend());
            }
            return *network_;
        };
    }
    MethodContext& context() { return context_; }
    const MultiTaskNetwork& network() { return context_.shared_network(); }

  private:
    const SyntheticSplit& split_;
    MethodContext context_;
    std::unique_ptr<MultiTaskNetwork> network_;
};

// IPW cost on the test rows of the method's most spending policy (the spending end of its knob).
inline double largest_spend(AllocationMethod& method, const Dataset& test) {
    method.prepare(test, cpu_backend());
    const KnobRange range = method.knob_range();
    std::vector<int32_t> choice;
    method.choose(range.direction == KnobDirection::kCostIncreases ? range.high : range.low,
                  choice);
    return eom(test, choice).cost;
}

// The budgets where a method and random allocation are compared at the same realised cost:
// l / (levels + 1) of the smaller of their largest spends, l = 1..levels. Above a policy's
// largest spend the two would be compared at different costs, and at it the policy has no
// choice left (treat everyone it may, lambda = 0), so the grid stops short of it.
inline std::vector<double> comparable_budgets(AllocationMethod& method, const Dataset& test,
                                              int levels, uint64_t random_seed = 11) {
    RandomPolicy random(random_seed);
    const double top = std::min(largest_spend(method, test), largest_spend(random, test));
    std::vector<double> budgets;
    for (int l = 1; l <= levels; ++l) budgets.push_back(top * l / (levels + 1));
    return budgets;
}

// The true value of the method's policy at each budget, its knob matched on the IPW cost.
inline std::vector<TrueOutcome> true_outcomes_at(AllocationMethod& method, const Dataset& test,
                                                 const std::vector<double>& budgets) {
    method.prepare(test, cpu_backend());
    KnobPolicy policy = [&method](double knob) {
        std::vector<int32_t> choice;
        method.choose(knob, choice);
        return choice;
    };
    std::vector<TrueOutcome> out;
    for (double budget : budgets) {
        EomResult point = eom_at_budget(test, policy, method.knob_range(), budget);
        out.push_back(true_policy_value(test, policy(point.knob)));
    }
    return out;
}

inline std::vector<TrueOutcome> random_outcomes_at(const Dataset& test,
                                                   const std::vector<double>& budgets,
                                                   uint64_t seed = 11) {
    RandomPolicy random(seed);
    return true_outcomes_at(random, test, budgets);
}

// The fitted method's policy has a higher true value than random allocation at every budget of
// comparable_budgets, each policy's knob matched on the IPW cost as the harness does it.
inline void expect_beats_random(AllocationMethod& method, const Dataset& test, int levels = 5) {
    std::vector<double> budgets = comparable_budgets(method, test, levels);
    std::vector<TrueOutcome> ours = true_outcomes_at(method, test, budgets);
    std::vector<TrueOutcome> random = random_outcomes_at(test, budgets);
    for (size_t l = 0; l < budgets.size(); ++l)
        EXPECT_GT(ours[l].value, random[l].value)
            << method.name() << " at budget " << budgets[l] << ": " << ours[l].value
            << " at true cost " << ours[l].cost << ", random " << random[l].value << " at "
            << random[l].cost;
}

}  // namespace ca::testing_support
