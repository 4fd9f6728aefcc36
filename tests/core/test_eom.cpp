// EOM by hand on small tables, propensities of 0 and 1, budget matching on monotone toys, and
// the synthetic-truth oracle against its hull by hand and against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/eom.h"
#include "core/errors.h"

namespace ca {
namespace {

// The case file's propensity column is P(treated); the dataset wants the logged arm's.
Dataset read_bc04() {
    const char* folder = std::getenv("CA_TEST_DATA");
    std::string path = std::string(folder ? folder : "tests/data") + "/BC-04.csv";
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path;
    Dataset data;
    data.source = path;
    data.m = 2;
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "f0,treatment,conversion,visit,propensity");
    for (int64_t line_number = 2; std::getline(in, line); ++line_number) {
        std::vector<double> field;
        std::stringstream split(line);
        for (std::string cell; std::getline(split, cell, ',');) field.push_back(std::stod(cell));
        int32_t arm = int32_t(field[1]);
        data.arm.push_back(arm);
        data.value.push_back(float(field[2]));
        data.cost.push_back(float(field[3]));
        data.propensity.push_back(arm == 1 ? field[4] : 1.0 - field[4]);
        data.source_line.push_back(line_number);
    }
    data.n = int64_t(data.arm.size());
    return data;
}

// Rows logged under arms 0, 1, 2, 0, 1, 2 with values 1..6.
Dataset six_rows() {
    Dataset data;
    data.source = "six rows";
    data.n = 6;
    data.m = 3;
    data.arm = {0, 1, 2, 0, 1, 2};
    data.value = {1, 2, 3, 4, 5, 6};
    data.cost = {0, 1, 2, 0, 3, 4};
    return data;
}

TEST(EomByHand, ArmSharesOnSixRows) {
    // Choices 0,1,1,2,1,2 match the logged arm on rows 1, 2, 5, 6; every share is 1/3.
    EomResult result = eom(six_rows(), {0, 1, 1, 2, 1, 2});
    EXPECT_NEAR(result.value, 3.0 * (1 + 2 + 5 + 6) / 6, 1e-12);
    EXPECT_NEAR(result.cost, 3.0 * (0 + 1 + 3 + 4) / 6, 1e-12);
    EXPECT_EQ(result.propensity_source, PropensitySource::kArmShare);
}

TEST(EomByHand, PerRowPropensitiesOnSixRows) {
    Dataset data = six_rows();
    data.propensity = {0.5, 0.25, 0.25, 0.5, 0.25, 0.25};
    EomResult result = eom(data, {0, 1, 1, 2, 1, 2});
    EXPECT_NEAR(result.value, (2 * 1 + 4 * 2 + 4 * 5 + 4 * 6) / 6.0, 1e-12);
    EXPECT_NEAR(result.cost, (2 * 0 + 4 * 1 + 4 * 3 + 4 * 4) / 6.0, 1e-12);
    EXPECT_EQ(result.propensity_source, PropensitySource::kPerRow);
    EomParams shares;
    shares.use_row_propensity = false;
    EXPECT_NEAR(eom(data, {0, 1, 1, 2, 1, 2}, shares).value, 7.0, 1e-12);
}

TEST(EomPropensityBounds, ZeroAndOneAreRejectedNamingTheirLines) {
    Dataset data = read_bc04();
    std::vector<int32_t> treat_all(data.n, 1);
    try {
        eom(data, treat_all);
        ADD_FAILURE() << "propensities 0 and 1 were accepted";
    } catch (const InputError& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("BC-04.csv:4"), std::string::npos) << message;
        EXPECT_NE(message.find("BC-04.csv:6"), std::string::npos) << message;
        EXPECT_EQ(message.find("inf"), std::string::npos) << message;
        EXPECT_EQ(message.find("nan"), std::string::npos) << message;
    }
}

TEST(EomPropensityBounds, ClippedTreatAll) {
    // (1/0.5 + 0/0.01 + 1/0.99) / 6
    Dataset data = read_bc04();
    EomParams params;
    params.clip_propensity = true;
    EomResult result = eom(data, std::vector<int32_t>(data.n, 1), params);
    EXPECT_NEAR(result.value, 0.501684, 5e-7);
    EXPECT_EQ(result.propensity_source, PropensitySource::kPerRow);
    EXPECT_STREQ(propensity_source_name(result.propensity_source), "per-row propensity");
}

TEST(EomPropensityBounds, ArmSharesTreatAll) {
    // Three of six rows treated: (2 / 0.5) / 6.
    Dataset data = read_bc04();
    EomParams params;
    params.use_row_propensity = false;
    EomResult result = eom(data, std::vector<int32_t>(data.n, 1), params);
    EXPECT_NEAR(result.value, 0.666667, 5e-7);
    EXPECT_EQ(result.propensity_source, PropensitySource::kArmShare);
}

TEST(EomParamsConfig, ReadsKnownKeysAndRefusesOthers) {
    auto node = [](const char* text) {
        return ConfigNode::from_json(nlohmann::json::parse(text), "configs/x.json");
    };
    EomParams params = parse_eom_params(
        node(R"({"propensity": "arm_share", "clip_propensity": true, "clip_low": 0.05})"));
    EXPECT_FALSE(params.use_row_propensity);
    EXPECT_TRUE(params.clip_propensity);
    EXPECT_EQ(params.clip_low, 0.05);
    EXPECT_THROW(parse_eom_params(node(R"({"clip": true})")), ConfigError);
    EXPECT_THROW(parse_eom_params(node(R"({"propensity": "estimated"})")), ConfigError);
}

// 100 rows, odd rows treated with cost 1, even rows control with cost 0: treating rows i < k
// costs 2 / 100 per treated row under IPW with share 1/2.
Dataset alternating_rows() {
    Dataset data;
    data.source = "toy";
    data.n = 100;
    data.m = 2;
    for (int i = 0; i < 100; ++i) {
        data.arm.push_back(i % 2);
        data.value.push_back(i % 2 ? 2.0f : 1.0f);
        data.cost.push_back(i % 2 ? 1.0f : 0.0f);
    }
    return data;
}

std::vector<int32_t> treat_first(double k) {
    std::vector<int32_t> choices(100, 0);
    for (int i = 0; i < 100 && i < k; ++i) choices[i] = 1;
    return choices;
}

TEST(EomAtBudget, MeetsTargetOnMonotoneToy) {
    Dataset data = alternating_rows();
    KnobRange range{0.0, 100.0, KnobDirection::kCostIncreases};
    // 0.30 is 15 treated rows: the odd rows 1..29, so the knob lies in (29, 31].
    EomResult met = eom_at_budget(data, treat_first, range, 0.30);
    EXPECT_TRUE(met.reached);
    EXPECT_EQ(met.status, BudgetMatch::kMet);
    EXPECT_NEAR(met.cost, 0.30, 1e-9);
    EXPECT_GT(met.knob, 29.0);
    EXPECT_LE(met.knob, 31.0);
    // Between two steps the answer is the step below the target.
    EomResult between = eom_at_budget(data, treat_first, range, 0.31);
    EXPECT_TRUE(between.reached);
    EXPECT_NEAR(between.cost, 0.30, 1e-9);
    EXPECT_GT(between.knob, 29.0);
    EXPECT_LE(between.knob, 31.0);
}

TEST(EomAtBudget, LambdaStyleKnobSpendsLessAsItGrows) {
    Dataset data = alternating_rows();
    KnobPolicy policy = [](double lambda) { return treat_first(100.0 - lambda); };
    KnobRange range{0.0, 100.0, KnobDirection::kCostDecreases};
    EomResult met = eom_at_budget(data, policy, range, 0.30);
    EXPECT_NEAR(met.cost, 0.30, 1e-9);
    EXPECT_GE(met.knob, 69.0);
    EXPECT_LT(met.knob, 71.0);
}

TEST(EomAtBudget, TargetsOutsideTheKnobRange) {
    Dataset data = alternating_rows();
    KnobRange range{0.0, 100.0, KnobDirection::kCostIncreases};
    // Treating everyone costs 50 * 0.02 = 1.
    EomResult all = eom_at_budget(data, treat_first, range, 2.0);
    EXPECT_FALSE(all.reached);
    EXPECT_EQ(all.status, BudgetMatch::kCannotSpend);
    EXPECT_NEAR(all.cost, 1.0, 1e-9);
    EXPECT_EQ(all.knob, 100.0);
    // A policy that always treats row 1 spends 0.02 at least.
    KnobPolicy stubborn = [](double k) { return treat_first(std::max(2.0, k)); };
    EomResult over = eom_at_budget(data, stubborn, range, 0.01);
    EXPECT_FALSE(over.reached);
    EXPECT_EQ(over.status, BudgetMatch::kOverAtMinimum);
    EXPECT_THROW(eom_at_budget(data, treat_first, range, -1.0), InputError);
}

// Two users, three arms. Incremental ratios on the hull: user A 0->1 is 2, user B 0->2 is
// 0.75, user A 1->2 is 0.5 (B's arm 1 lies under the hull).
Dataset two_users_with_truth() {
    Dataset data;
    data.source = "two users";
    data.n = 2;
    data.m = 3;
    data.arm = {0, 1};
    data.value = {0, 0};
    data.cost = {0, 0};
    data.true_value = {1, 3, 4, 2, 2.5f, 5};
    data.true_cost = {0, 1, 3, 0, 2, 4};
    return data;
}

TEST(EomTruth, TruePolicyValueByHand) {
    TrueOutcome outcome = true_policy_value(two_users_with_truth(), {0, 1});
    EXPECT_NEAR(outcome.value, (1 + 2.5) / 2, 1e-12);
    EXPECT_NEAR(outcome.cost, (0 + 2) / 2.0, 1e-12);
    EXPECT_THROW(true_policy_value(six_rows(), {0, 0, 0, 0, 0, 0}), InputError);
}

TEST(EomTruth, OracleFollowsTheHullByHand) {
    Dataset data = two_users_with_truth();
    OracleResult at_vertex = oracle_at_budget(data, 2.5);  // A arm 1, B arm 2: cost 5 / 2
    EXPECT_EQ(at_vertex.choices, (std::vector<int32_t>{1, 2}));
    EXPECT_NEAR(at_vertex.value, 4.0, 1e-12);
    EXPECT_NEAR(at_vertex.cost, 2.5, 1e-12);
    EXPECT_GE(at_vertex.lambda, 0.5);
    EXPECT_LE(at_vertex.lambda, 0.75);
    EXPECT_TRUE(at_vertex.reached);
    // Between vertices: the vertex below (A arm 1 only).
    OracleResult below = oracle_at_budget(data, 1.5);
    EXPECT_EQ(below.choices, (std::vector<int32_t>{1, 0}));
    EXPECT_NEAR(below.value, 2.5, 1e-12);
    // More than everything useful costs: lambda 0, the best arms.
    OracleResult rich = oracle_at_budget(data, 10.0);
    EXPECT_EQ(rich.choices, (std::vector<int32_t>{2, 2}));
    EXPECT_EQ(rich.lambda, 0.0);
    EXPECT_FALSE(rich.reached);
    OracleResult zero = oracle_at_budget(data, 0.0);
    EXPECT_EQ(zero.choices, (std::vector<int32_t>{0, 0}));
    EXPECT_NEAR(zero.value, 1.5, 1e-12);
}

TEST(EomTruth, OracleBeatsEveryPolicyThatCostsNoMoreByBruteForce) {
    // 6 users x 3 arms: all 729 policies. A Lagrangian solution is optimal among policies
    // costing no more than it does.
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    Dataset data;
    data.source = "random truth";
    data.n = 6;
    data.m = 3;
    data.arm.assign(6, 0);
    data.value.assign(6, 0);
    data.cost.assign(6, 0);
    for (int i = 0; i < 6; ++i) {
        data.true_value.insert(data.true_value.end(),
                               {uniform(rng), 1 + uniform(rng), 1 + 2 * uniform(rng)});
        data.true_cost.insert(data.true_cost.end(), {0.0f, uniform(rng), 1 + uniform(rng)});
    }
    for (double target : {0.1, 0.3, 0.6, 0.9, 1.2}) {
        OracleResult oracle = oracle_at_budget(data, target);
        EXPECT_LE(oracle.cost, target + 1e-12);
        std::vector<int32_t> policy(6);
        for (int code = 0; code < 729; ++code) {
            for (int i = 0, rest = code; i < 6; ++i, rest /= 3) policy[i] = rest % 3;
            TrueOutcome outcome = true_policy_value(data, policy);
            if (outcome.cost <= oracle.cost + 1e-12)
                EXPECT_LE(outcome.value, oracle.value + 1e-9) << "target " << target;
        }
    }
}

}  // namespace
}  // namespace ca
