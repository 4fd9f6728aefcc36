// DRM: the ratio-consistent loss and its minimiser, the arm ladder, returns learnt on data with
// known per-group returns, the step-up allocation, the policy against random allocation, and
// the config object.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "baselines/direct_test_support.h"
#include "baselines/drm.h"
#include "core/errors.h"

namespace ca {
namespace {

using testing_support::SharedContext;
using testing_support::SyntheticSplit;

TEST(DrmLossTest, MinimiserOverSeveralRowsIsTheMarginalReturn) {
    // One step, two rows per arm, so each arm's share within the pair is 0.5. Upper rows
    // (value, cost) = (3, 2), (5, 2); lower rows (1, 0.5), (1, 1.5). Mean lifts: value
    // 4 - 1 = 3, cost 2 - 1 = 1, marginal return 3.
    struct Row {
        double value, cost;
        bool upper;
    };
    const std::vector<Row> rows{{3, 2, true}, {5, 2, true}, {1, 0.5, false}, {1, 1.5, false}};
    auto total = [&](double theta, double* slope) {
        double loss = 0.0;
        *slope = 0.0;
        for (const Row& row : rows) {
            const double scale = row.upper ? 1.0 / 0.5 : -1.0 / 0.5;
            double s = 0.0;
            loss += drm_ratio_loss(theta, scale * row.value, scale * row.cost, &s);
            *slope += s;
        }
        return loss;
    };
    // A fine scan of theta finds its lowest loss at 3, where the slope is zero.
    double best_theta = 0.0, best_loss = INFINITY, slope = 0.0;
    for (double theta = -10.0; theta <= 10.0; theta += 1e-3) {
        const double loss = total(theta, &slope);
        if (loss < best_loss) best_loss = loss, best_theta = theta;
    }
    EXPECT_NEAR(best_theta, 3.0, 1e-3);
    total(3.0, &slope);
    EXPECT_NEAR(slope, 0.0, 1e-12);
}

TEST(DrmLadderTest, OrdersArmsByMeanTrainingCost) {
    // Arm 2 costs 1 on average, arm 1 costs 3, the control 0: the ladder is 0 -> 2 -> 1.
    Dataset data;
    data.source = "ladder";
    data.n = 6;
    data.d = 1;
    data.m = 3;
    data.x.assign(6, 0.0f);
    data.arm = {0, 1, 2, 2, 1, 2};
    data.value.assign(6, 1.0f);
    data.cost = {0, 2, 1, 0.5, 4, 1.5};
    DrmLadder ladder = DrmLadder::from_training(data);
    EXPECT_EQ(ladder.order, (std::vector<int>{0, 2, 1}));
    EXPECT_EQ(ladder.position, (std::vector<int>{0, 2, 1}));
    // Step 0 -> 2: 1 control row and 3 of arm 2. Step 2 -> 1: 3 and 2.
    EXPECT_NEAR(ladder.lower_share[0], 0.25, 1e-12);
    EXPECT_NEAR(ladder.upper_share[0], 0.75, 1e-12);
    EXPECT_NEAR(ladder.lower_share[1], 0.6, 1e-12);
    EXPECT_NEAR(ladder.upper_share[1], 0.4, 1e-12);

    data.arm = {0, 2, 2, 2, 2, 2};
    try {
        DrmLadder::from_training(data);
        FAIL() << "missing arm accepted";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("arm 1 has no training rows"), std::string::npos)
            << error.what();
    }
}

// Two kinds of users told apart by one feature; treating raises value by 2 and cost by 1 for
// one kind (return 2) and value by 0.5 at cost 1 for the other (return 0.5). Baseline values
// vary from row to row, so single rows say little on their own.
Dataset two_group_rows(int64_t n, uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    Dataset data;
    data.source = "two groups";
    data.n = n;
    data.d = 1;
    data.m = 2;
    for (int64_t i = 0; i < n; ++i) {
        const bool high = i % 2 == 0;
        const int32_t arm = uniform(engine) < 0.5f ? 1 : 0;
        data.x.push_back(high ? 1.0f : -1.0f);
        data.arm.push_back(arm);
        data.value.push_back(uniform(engine) + (arm ? (high ? 2.0f : 0.5f) : 0.0f));
        data.cost.push_back(arm ? 0.5f + uniform(engine) : 0.0f);
    }
    return data;
}

TEST(DrmMethodTest, LearnsTheReturnOfEachKindOfUser) {
    Dataset train = two_group_rows(4000, 1), validation = two_group_rows(1000, 2);
    MethodContext context{train, validation, cpu_backend(), 0, nullptr};
    DrmParams params;
    params.network.hidden = {8};
    params.network.max_epochs = 40;
    params.network.learning_rate = 1e-2;
    DrmMethod method(params);
    method.fit(context);

    Dataset probe = two_group_rows(2, 3);  // row 0 of the first kind, row 1 of the second
    method.prepare(probe, cpu_backend());
    ASSERT_EQ(method.returns().size(), 2u);
    // Sampling noise of 4000 rows (and the network) keeps the fit within about 15 %.
    EXPECT_NEAR(method.returns()[0], 2.0, 0.3);
    EXPECT_NEAR(method.returns()[1], 0.5, 0.15);

    // Between the two returns only the first kind steps up; above both nobody does.
    std::vector<int32_t> choice;
    method.choose(1.0, choice);
    EXPECT_EQ(choice, (std::vector<int32_t>{1, 0}));
    method.choose(0.1, choice);
    EXPECT_EQ(choice, (std::vector<int32_t>{1, 1}));
    method.choose(method.knob_range().high, choice);
    EXPECT_EQ(choice, (std::vector<int32_t>{0, 0}));
    EXPECT_EQ(method.treatment_scores().size(), 2u);
}

TEST(DrmMethodTest, StepsUpTheLadderAndSpendsLessAsLambdaGrows) {
    SyntheticSplit split = testing_support::synthetic_split(4, 2000, 500, 1000, 31);
    SharedContext shared(split);
    DrmParams params;
    params.network.max_epochs = 5;
    DrmMethod method(params);
    method.fit(shared.context());
    method.prepare(split.test, cpu_backend());
    const int pairs = split.test.m - 1;
    const std::vector<int>& order = method.ladder().order;
    EXPECT_EQ(order[0], 0);  // the control costs nothing

    // Each user's arm is the top of the run of returns above lambda from the first step on;
    // the total true cost never rises with lambda.
    double previous_cost = INFINITY;
    for (double share : {0.0, 0.2, 0.5, 0.8, 1.0}) {
        const double lambda = share * method.knob_range().high;
        std::vector<int32_t> choice;
        method.choose(lambda, choice);
        for (int64_t i = 0; i < split.test.n; ++i) {
            int steps = 0;
            while (steps < pairs && method.returns()[i * pairs + steps] > lambda) ++steps;
            EXPECT_EQ(choice[i], order[steps]) << "row " << i << ", lambda " << lambda;
        }
        const double cost = true_policy_value(split.test, choice).cost;
        EXPECT_LE(cost, previous_cost + 1e-12);
        previous_cost = cost;
    }
}

TEST(DrmMethodTest, ThreeArmPolicyBeatsRandomAtEveryBudget) {
    SyntheticSplit split = testing_support::synthetic_split(3, 4000, 1000, 4000, 32);
    SharedContext shared(split);
    DrmParams params;
    params.network.hidden = {32, 16};
    params.network.batch_size = 256;
    params.network.max_epochs = 30;
    DrmMethod method(params);
    method.fit(shared.context());
    testing_support::expect_beats_random(method, split.test);
}

TEST(DrmParamsTest, ReadsEveryKeyAndRejectsUnknownOnes) {
    auto node = [](const std::string& text) {
        return ConfigNode::from_json(nlohmann::json::parse(text), "configs/run.json")
            .child("baselines")
            .child("drm");
    };
    DrmParams set = DrmParams::from_config(node(R"({"baselines": {"drm": {
        "hidden": [16, 4], "learning_rate": 0.01, "batch_size": 64, "max_epochs": 4,
        "patience": 2, "seed": 3, "ratio_bound": 5}}})"));
    EXPECT_EQ(set.network.hidden, (std::vector<int>{16, 4}));
    EXPECT_EQ(set.network.max_epochs, 4);
    EXPECT_EQ(set.ratio_bound, 5.0);
    DrmParams again = DrmParams::from_config(ConfigNode::from_json(set.to_json(), "x"));
    EXPECT_EQ(again.to_json(), set.to_json());
    try {
        DrmParams::from_config(node(R"({"baselines": {"drm": {"lambda": 1}}})"));
        FAIL() << "unknown key accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("baselines.drm.lambda"), std::string::npos)
            << error.what();
    }
    try {
        DrmParams::from_config(node(R"({"baselines": {"drm": {"ratio_bound": -1}}})"));
        FAIL() << "negative bound accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("ratio_bound"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace ca
