// The policy file and its serving rules: an exact round trip, a refusal with its own message
// for each kind of damage, the budget lookup on the grid, and the split cluster's hashing
// spending the budget on 200k users.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/data_source.h"
#include "core/distillation.h"
#include "core/errors.h"
#include "core/hrc_method.h"
#include "core/multitask_network.h"
#include "core/policy_file.h"
#include "core/policy_serving.h"

namespace ca {
namespace {

namespace fs = std::filesystem;

// Encoder of three raw columns: age (numeric, mean 40, scale 10), member (binary, mean 0.5,
// scale 0.5) and channel (one-hot over Web, Phone): width 4.
FeatureEncoder small_encoder() {
    nlohmann::json columns = nlohmann::json::array();
    columns.push_back({{"name", "age"}, {"type", "numeric"}, {"mean", 40.0}, {"scale", 10.0}});
    columns.push_back({{"name", "member"}, {"type", "binary"}, {"mean", 0.5}, {"scale", 0.5}});
    columns.push_back({{"name", "channel"},
                       {"type", "categorical"},
                       {"encoding", "onehot"},
                       {"levels", {"Web", "Phone"}}});
    return FeatureEncoder::from_json({{"missing", "error"}, {"columns", columns}});
}

// K = 3 clusters of 100, 50 and 50 users, M = 3 arms. Value rises with cost in every cluster
// (concave), so every extra unit of budget buys value and the LP spends budgets exactly.
ClusterTable small_table() {
    ClusterTable table = ClusterTable::zeros(3, 3);
    table.population = {100.0, 50.0, 50.0};
    table.value = {1.0, 2.0, 2.5,   // cluster 0
                   0.5, 2.5, 3.0,   // cluster 1
                   2.0, 2.2, 2.3};  // cluster 2
    table.cost = {0.0, 1.0, 2.0,    //
                  0.0, 1.0, 2.0,    //
                  0.0, 0.5, 1.5};
    return table;
}

ServingPolicy small_policy(const BudgetGridParams& grid = BudgetGridParams{5, {}}) {
    ServingPolicy policy;
    policy.revision = "abc1234";
    policy.config = {{"name", "small"}, {"kmeans", {{"k", 3}}}};
    policy.encoder = small_encoder();
    policy.id_column = "uid";
    policy.arm_names = {"control", "coupon 5", "coupon 10"};
    policy.k = 3;
    policy.deploy = "integer";
    ClusterTable table = small_table();
    policy.population = table.population;
    policy.value = table.value;
    policy.cost = table.cost;
    policy.student = Mlp({4, 8, 3}, 11);
    ClusterSolverParams solver;
    solver.budgets = grid;
    policy.budgets = solve_policy_budgets(table, solver);
    return policy;
}

std::string message_of(const std::string& text) {
    try {
        parse_policy_text(text, "policy.json");
    } catch (const InputError& error) {
        return error.what();
    }
    return "no error";
}

void expect_refused(const std::string& text, const std::string& expected) {
    std::string message = message_of(text);
    EXPECT_EQ(message.rfind("policy.json: ", 0), 0u) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
}

TEST(PolicyFileTest, RoundTripIsExact) {
    ServingPolicy policy = small_policy();
    fs::path path = fs::path(::testing::TempDir()) / "policy_round_trip.json";
    write_policy_file(path.string(), policy);
    ServingPolicy read = read_policy_file(path.string());

    EXPECT_EQ(read.revision, policy.revision);
    EXPECT_EQ(read.config, policy.config);
    EXPECT_EQ(read.encoder.to_json(), policy.encoder.to_json());
    EXPECT_EQ(read.input_columns(), (std::vector<std::string>{"age", "member", "channel"}));
    EXPECT_EQ(read.id_column, "uid");
    EXPECT_EQ(read.arm_names, policy.arm_names);
    EXPECT_EQ(read.k, 3);
    EXPECT_EQ(read.deploy, "integer");
    EXPECT_EQ(read.population, policy.population);
    EXPECT_EQ(read.value, policy.value);
    EXPECT_EQ(read.cost, policy.cost);
    EXPECT_EQ(read.student.layout().widths(), policy.student.layout().widths());
    EXPECT_EQ(read.student.parameters(), policy.student.parameters());
    ASSERT_EQ(read.budgets.size(), 5u);
    for (size_t l = 0; l < read.budgets.size(); ++l)
        EXPECT_TRUE(read.budgets[l] == policy.budgets[l]) << "level " << l;

    // The same rows get the same clusters through both students.
    std::vector<float> x = {1.0f, -1.0f, 1.0f, 0.0f, -2.0f, 1.0f,
                            0.0f, 1.0f,  0.3f, 0.2f, 0.0f,  0.0f};
    EXPECT_EQ(predict_clusters(read.student, x.data(), 3, cpu_backend()),
              predict_clusters(policy.student, x.data(), 3, cpu_backend()));
    // Writing what was read gives the same bytes.
    EXPECT_EQ(policy_file_text(read), policy_file_text(policy));
}

TEST(PolicyFileTest, GridIsSolvedAtFractionsOfTheCostliestPolicy) {
    ServingPolicy policy = small_policy();
    // Costliest policy: 100 * 2 + 50 * 2 + 50 * 1.5 = 375 over 200 users.
    ASSERT_EQ(policy.budgets.size(), 5u);
    EXPECT_DOUBLE_EQ(policy.budgets.back().budget, 375.0);
    EXPECT_DOUBLE_EQ(policy.budgets.back().budget_per_capita, 375.0 / 200.0);
    EXPECT_DOUBLE_EQ(policy.budgets[2].fraction, 0.5);
    EXPECT_EQ(policy.budgets.front().arms, (std::vector<int>{0, 0, 0}));
    EXPECT_EQ(policy.budgets.back().arms, (std::vector<int>{2, 2, 2}));
}

TEST(PolicyFileTest, FlippedDigitInWeightsIsAChecksumMismatch) {
    std::string text = policy_file_text(small_policy());
    size_t weights = text.find("\"parameters\":[");
    ASSERT_NE(weights, std::string::npos);
    size_t digit = text.find_first_of("123456789", weights + 20);
    text[digit] = text[digit] == '9' ? '8' : char(text[digit] + 1);
    expect_refused(text, "checksum mismatch");
}

TEST(PolicyFileTest, TruncatedFileIsRefused) {
    std::string text = policy_file_text(small_policy());
    expect_refused(text.substr(0, text.size() / 2), "truncated");
    expect_refused(text.substr(0, text.size() - 3), "truncated");
}

TEST(PolicyFileTest, OtherFormatVersionIsRefused) {
    nlohmann::json payload = policy_payload(small_policy());
    payload["format_version"] = 2;
    expect_refused(sealed_policy_text(payload), "format_version 2; this build reads version 1");
}

TEST(PolicyFileTest, TableThatDoesNotMatchKIsRefused) {
    nlohmann::json payload = policy_payload(small_policy());
    payload["k"] = 4;
    expect_refused(sealed_policy_text(payload), "population: 3 entries, expected K = 4");

    payload = policy_payload(small_policy());
    payload["budgets"][2]["arms"].erase(0);
    expect_refused(sealed_policy_text(payload),
                   "budgets[2].arms: 2 entries, expected one per "
                   "cluster, K = 3");
}

TEST(PolicyFileTest, UnknownArmIsRefused) {
    nlohmann::json payload = policy_payload(small_policy());
    payload["budgets"][1]["lp_arms"][2] = "coupon 50";
    expect_refused(sealed_policy_text(payload),
                   "budgets[1].lp_arms[2]: unknown arm \"coupon 50\"; the policy's arms are "
                   "\"control\", \"coupon 5\", \"coupon 10\"");
}

TEST(PolicyFileTest, WeightsThatDoNotMatchTheLayersAreRefused) {
    nlohmann::json payload = policy_payload(small_policy());
    payload["student"]["parameters"].erase(0);
    // {4, 8, 3}: 4*8 + 8 + 8*3 + 3 = 67 parameters.
    expect_refused(sealed_policy_text(payload), "expected 67 numbers, got 66");

    ServingPolicy wide = small_policy();
    wide.student = Mlp({5, 8, 3}, 1);
    expect_refused(policy_file_text(wide), "input width 5 does not match the encoder's 4");
    ServingPolicy narrow = small_policy();
    narrow.student = Mlp({4, 8, 2}, 1);
    expect_refused(policy_file_text(narrow), "output width 2, expected K = 3");
}

TEST(PolicyFileTest, OtherDocumentsAreRefused) {
    expect_refused("", "empty file");
    expect_refused("hello", "not valid JSON");
    expect_refused("{\"a\": 1}", "not a clusteralloc policy file");
    nlohmann::json payload = policy_payload(small_policy());
    payload["input_columns"] = {"age", "channel", "member"};
    expect_refused(sealed_policy_text(payload), "input_columns");
    std::string text = policy_file_text(small_policy());
    size_t checksum = text.find("\"checksum\"");
    expect_refused(text.substr(0, checksum) + "\"x\": 0\n}\n", "checksum: required member");
}

TEST(PolicyFileTest, MissingFileNamesThePath) {
    try {
        read_policy_file("/nonexistent/policy.json");
        FAIL();
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("/nonexistent/policy.json: cannot open"),
                  std::string::npos);
    }
}

TEST(PolicyServingTest, LowerModeServesTheGridPointAtOrBelow) {
    ServingPolicy policy = small_policy();
    double level1 = policy.budgets[1].budget_per_capita,
           level2 = policy.budgets[2].budget_per_capita;
    BudgetLookup between = lookup_budget(policy, 0.5 * (level1 + level2), BudgetMode::kLower);
    EXPECT_EQ(between.level, 1);
    EXPECT_EQ(between.allocation.arms, policy.budgets[1].arms);
    EXPECT_FALSE(between.allocation.split.has_value());
    EXPECT_TRUE(between.warning.empty());
    // A grid budget printed with 12 digits still reaches its own level.
    EXPECT_EQ(lookup_budget(policy, level2 * (1 - 1e-12), BudgetMode::kLower).level, 2);
    EXPECT_LE(between.expected_cost, 0.5 * (level1 + level2) + 1e-12);
}

TEST(PolicyServingTest, LpSplitDeploymentServesTheSplitAtGridPoints) {
    ServingPolicy policy = small_policy();
    policy.deploy = "lp_split";
    for (size_t l = 0; l < policy.budgets.size(); ++l) {
        BudgetLookup lookup =
            lookup_budget(policy, policy.budgets[l].budget_per_capita, BudgetMode::kLower);
        EXPECT_EQ(lookup.allocation.arms, policy.budgets[l].lp_arms);
        EXPECT_EQ(lookup.allocation.split.has_value(), policy.budgets[l].split.has_value());
        // The LP spends each grid budget exactly.
        EXPECT_NEAR(lookup.expected_cost, policy.budgets[l].budget_per_capita, 1e-9);
    }
}

TEST(PolicyServingTest, BudgetsOutsideTheGrid) {
    ServingPolicy policy = small_policy();
    BudgetLookup above = lookup_budget(policy, 10.0, BudgetMode::kLower);
    EXPECT_EQ(above.level, 4);
    EXPECT_EQ(above.position, GridPosition::kAboveGrid);
    EXPECT_NE(above.warning.find("above the policy's highest grid budget 1.875"), std::string::npos)
        << above.warning;
    EXPECT_EQ(lookup_budget(policy, 10.0, BudgetMode::kInterpolate).allocation.arms,
              policy.budgets.back().lp_arms);

    EXPECT_THROW(lookup_budget(policy, -0.1, BudgetMode::kLower), InputError);
    EXPECT_THROW(lookup_budget(policy, std::nan(""), BudgetMode::kInterpolate), InputError);

    // A grid from 30% up: 0.1 per capita is below it, and everyone gets the cheapest arm.
    BudgetGridParams from_thirty;
    from_thirty.fractions = {0.3, 0.6, 1.0};
    ServingPolicy partial = small_policy(from_thirty);
    BudgetLookup below = lookup_budget(partial, 0.1, BudgetMode::kInterpolate);
    EXPECT_EQ(below.position, GridPosition::kBelowGrid);
    EXPECT_EQ(below.allocation.arms, (std::vector<int>{0, 0, 0}));
    EXPECT_NE(below.warning.find("cheapest arm \"control\""), std::string::npos) << below.warning;
}

TEST(PolicyServingTest, SplitClusterHashingSpendsTheBudgetOn200kUsers) {
    ServingPolicy policy = small_policy();
    double budget =
        0.5 * (policy.budgets[2].budget_per_capita + policy.budgets[3].budget_per_capita);
    BudgetLookup lookup = lookup_budget(policy, budget, BudgetMode::kInterpolate);
    ASSERT_TRUE(lookup.allocation.split.has_value());
    const SplitCluster cut = *lookup.allocation.split;
    ASSERT_GT(cut.fraction, 0.05);
    ASSERT_LT(cut.fraction, 0.95);

    // 200,000 users with random 64-bit ids, in the clusters exactly in proportion to the
    // population (100 : 50 : 50), so only the hash within the split cluster is random.
    const int64_t n = 200000;
    std::mt19937_64 ids(42);
    double spend = 0.0;
    int64_t in_split = 0;
    for (int64_t i = 0; i < n; ++i) {
        int cluster = i < n / 2 ? 0 : i < 3 * n / 4 ? 1 : 2;
        int arm = arm_for_user(lookup.allocation, cluster, int64_t(ids()));
        spend += policy.cost[size_t(cluster) * 3 + arm];
        in_split += cluster == cut.cluster;
    }
    spend /= double(n);
    double step = policy.cost[size_t(cut.cluster) * 3 + cut.arm_high] -
                  policy.cost[size_t(cut.cluster) * 3 + cut.arm_low];
    double sigma = std::sqrt(double(in_split) * cut.fraction * (1 - cut.fraction)) * step / n;
    EXPECT_NEAR(spend, budget, 4.0 * sigma);
    EXPECT_NEAR(lookup.expected_cost, budget, 1e-12);
}

TEST(PolicyServingTest, EncodingImputesMissingNumbersAndZeroesUnknownCategories) {
    PolicyServer server(small_policy());
    std::vector<float> x(4);
    server.encode_row({"50", "1", "Phone"}, x.data());
    EXPECT_EQ(x, (std::vector<float>{1.0f, 1.0f, 0.0f, 1.0f}));
    // Missing age -> the mean (0); unknown channel -> no level; missing member -> the mean.
    server.encode_row({"", "NA", "Kiosk"}, x.data());
    EXPECT_EQ(x, (std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f}));
    EXPECT_THROW(server.encode_row({"old", "1", "Web"}, x.data()), InputError);
    EXPECT_THROW(server.encode_row({"30", "2", "Web"}, x.data()), InputError);
}

TEST(PolicyServingTest, ServerClustersEqualTheStudentsArgmax) {
    ServingPolicy policy = small_policy();
    PolicyServer server(policy);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
    const int64_t n = 9000;  // more than two inference blocks
    std::vector<float> x(size_t(n) * 4);
    for (float& v : x) v = uniform(rng);
    std::vector<int32_t> clusters(n);
    server.predict_clusters(x.data(), n, cpu_backend(), clusters.data());
    std::vector<float> logits(size_t(n) * 3);
    policy.student.infer(x.data(), n, cpu_backend(), logits.data());
    for (int64_t i = 0; i < n; ++i) {
        const float* row = logits.data() + i * 3;
        int best = row[1] > row[0] ? 1 : 0;
        if (row[2] > row[best]) best = 2;
        ASSERT_EQ(clusters[i], best) << "row " << i;
    }
}

TEST(PolicyServingTest, SplitHashingPutsTheSameUsersHighAsHrc) {
    // A small synthetic RCT and HRC deploying its LP split: serving the same clusters with the
    // served allocation must reproduce HRC's own choices user by user, split cluster included.
    nlohmann::json data = {
        {"source", "synthetic"},
        {"synthetic",
         {{"rows", 1500}, {"features", 6}, {"arms", 3}, {"seed", 4}, {"segments", 4}}}};
    DataSplits splits = DataSource::open(ConfigNode::from_json(data, "test.json")).split(0);
    MultiTaskNetworkParams network_params;
    network_params.hidden1 = 16;
    network_params.hidden2 = 8;
    network_params.head_hidden = 8;
    network_params.max_epochs = 1;
    MultiTaskNetwork network(network_params, splits.train.d, splits.train.m,
                             int(splits.train.aux.size()));
    network.fit(splits.train, splits.validation, cpu_backend());
    MethodContext context{splits.train, splits.validation, cpu_backend(), 0,
                          [&network]() -> const MultiTaskNetwork& { return network; }};

    HrcParams params;
    params.kmeans.k = 8;
    params.deploy = "lp_split";
    HrcMethod hrc(params);
    hrc.fit(context);
    hrc.prepare(splits.test, cpu_backend());
    int splits_seen = 0;
    for (double fraction : {0.15, 0.35, 0.55, 0.75}) {
        double knob = fraction * hrc.knob_range().high;
        std::vector<int32_t> expected;
        hrc.choose(knob, expected);
        ClusterAllocation allocation = hrc.allocate(knob);
        splits_seen += allocation.split.has_value();
        ServedAllocation served = served_from(allocation, true);
        for (int64_t i = 0; i < splits.test.n; ++i)
            ASSERT_EQ(arm_for_user(served, hrc.labels()[i], splits.test.user_id[i]), expected[i])
                << "row " << i << " at budget fraction " << fraction;
    }
    EXPECT_GT(splits_seen, 0);
}

}  // namespace
}  // namespace ca
