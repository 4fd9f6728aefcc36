// Slower checks of the causal forest and TSM-CF: the step effect's error shrinks with more
// rows, and on a larger five-arm synthetic RCT TSM-CF beats random allocation at every budget
// of a ten-level grid and closes most of the gap from random to the oracle, over three seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "baselines/causal_forest.h"
#include "baselines/tsm_cf.h"
#include "core/reference_policies.h"
#include "core/synthetic_generator.h"
#include "experiments/budget_evaluation.h"
#include "kernels/backend.h"

namespace ca {
namespace {

double unit(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }
double normal(std::mt19937_64& rng) {
    double u = 1.0 - unit(rng);
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * unit(rng));
}

double step_effect(const float* row) { return row[0] > 0.0f ? 2.0 : 0.5; }

// Mean absolute error of the forest's effect on fresh points, for a randomised trial of n rows
// with y = x1 + t * tau(x) + N(0, 1) and the step effect tau of the fast test.
double step_effect_error(int64_t n, uint64_t seed) {
    const int d = 5;
    std::mt19937_64 rng(seed);
    std::vector<float> x, y, fresh;
    std::vector<uint8_t> treated;
    for (int64_t i = 0; i < n; ++i) {
        for (int f = 0; f < d; ++f) x.push_back(float(2.0 * unit(rng) - 1.0));
        bool t = unit(rng) < 0.5;
        treated.push_back(t ? 1 : 0);
        const float* row = x.data() + i * d;
        y.push_back(float(row[1] + (t ? step_effect(row) : 0.0) + normal(rng)));
    }
    const int64_t fresh_rows = 4000;
    for (int64_t i = 0; i < fresh_rows * d; ++i) fresh.push_back(float(2.0 * unit(rng) - 1.0));

    CausalForest forest(CausalForestParams{});
    forest.fit(x.data(), n, d, treated.data(), y.data());
    ForestPrediction prediction = forest.predict(fresh.data(), fresh_rows);
    double error = 0.0;
    for (int64_t i = 0; i < fresh_rows; ++i)
        error += std::abs(prediction.effect[size_t(i)] - step_effect(fresh.data() + i * d));
    return error / double(fresh_rows);
}

TEST(CausalForestLong, StepEffectErrorShrinksWithRows) {
    double small = step_effect_error(4000, 51);
    double large = step_effect_error(32000, 52);
    // Eight times the rows: leaves at the step get narrower and each point is covered by more
    // distinct leaves, so the error must fall clearly, by at least a quarter.
    EXPECT_LT(large, 0.75 * small) << "4000 rows: " << small << ", 32000 rows: " << large;
}

DataSplits orders_splits(int64_t train_rows, int64_t test_rows, int arms, uint64_t seed) {
    SyntheticParams params;
    params.rows = train_rows + test_rows;
    params.arms = arms;
    params.seed = seed;
    params.value = SyntheticValue::kOrders;
    Dataset all = generate_synthetic(params);
    std::vector<int64_t> train, test;
    for (int64_t i = 0; i < all.n; ++i) (i < train_rows ? train : test).push_back(i);
    DataSplits splits;
    splits.train = all.subset(train);
    splits.validation = all.subset({});
    splits.test = all.subset(test);
    return splits;
}

TEST(TsmCfLong, ClosesMostOfTheGapToTheOracle) {
    for (uint64_t seed : {41, 42, 43}) {
        DataSplits splits = orders_splits(20000, 10000, 5, seed);
        EvaluationParams params;
        params.budget_levels = 10;
        params.methods = {"TSM-CF", "random"};
        params.oracle = false;
        MethodFactory factory = [](const std::string& name,
                                   uint64_t run_seed) -> std::unique_ptr<AllocationMethod> {
            if (name == "TSM-CF") return std::make_unique<TsmCfMethod>();
            return std::make_unique<RandomPolicy>(run_seed);
        };
        StageTimer timer;
        SplitOutcome outcome = evaluate_split(splits, params, MultiTaskNetworkParams{}, factory,
                                              cpu_backend(), 0, timer);
        const MethodOutcome& forest = outcome.methods[0];
        const MethodOutcome& random = outcome.methods[1];
        double closed = 0.0;
        for (size_t level = 0; level < outcome.budgets.size(); ++level) {
            double floor = random.truth[level].value;
            EXPECT_GT(forest.truth[level].value, floor) << "seed " << seed << ", level " << level;
            closed += (forest.truth[level].value - floor) / (outcome.oracle_value[level] - floor);
        }
        // Half of the way from random to the oracle on average: a baseline worth comparing
        // against recovers at least half of what knowing every user's response adds.
        EXPECT_GT(closed / double(outcome.budgets.size()), 0.5) << "seed " << seed;
    }
}

}  // namespace
}  // namespace ca
