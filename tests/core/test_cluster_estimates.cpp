// Cluster estimates: the BC-03 cell table with its empty cell, shrinkage and confidence bounds
// worked by hand, and the errors for bad labels, missing arms and bad config.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cluster_estimates.h"
#include "core/csv_reader.h"
#include "core/errors.h"

namespace ca {
namespace {

std::string test_data(const std::string& name) {
    const char* folder = std::getenv("CA_TEST_DATA");
    return std::string(folder ? folder : "tests/data") + "/" + name;
}

// The Criteo-style columns f0, f1, treatment, conversion (value), visit (cost).
Dataset read_binary_rct(const std::string& path) {
    Dataset rct;
    rct.source = path;
    rct.d = 2;
    rct.m = 2;
    read_csv_file(path, [&](const CsvRecord& record) {
        if (record.line == 1) return true;
        auto number = [&](int j) { return std::stod(std::string(record.fields[size_t(j)])); };
        rct.x.push_back(float(number(0)));
        rct.x.push_back(float(number(1)));
        rct.arm.push_back(int32_t(number(2)));
        rct.value.push_back(float(number(3)));
        rct.cost.push_back(float(number(4)));
        rct.source_line.push_back(record.line);
        rct.n += 1;
        return true;
    });
    return rct;
}

// BC-03: rows 1-4 form cluster A (0), rows 5-7 cluster B (1), as if a clustering had
// separated the two far-apart groups.
const std::vector<int32_t> kBc03Labels = {0, 0, 0, 0, 1, 1, 1};

EstimateParams plain_means() {
    EstimateParams params;
    params.shrinkage = "none";
    return params;
}

void expect_no_nan(const ClusterTable& table) {
    for (size_t i = 0; i < table.value.size(); ++i) {
        EXPECT_TRUE(std::isfinite(table.value[i])) << "cell " << i;
        EXPECT_TRUE(std::isfinite(table.cost[i])) << "cell " << i;
        EXPECT_TRUE(std::isfinite(table.value_se[i])) << "cell " << i;
        EXPECT_TRUE(std::isfinite(table.cost_se[i])) << "cell " << i;
    }
}

TEST(EstimatesBC03, CellTableWithEmptyControlCell) {
    Dataset rct = read_binary_rct(test_data("BC-03.csv"));
    ASSERT_EQ(rct.n, 7);
    ClusterTable table =
        estimate_clusters(rct, kBc03Labels.data(), 2, {400.0, 300.0}, plain_means());
    ASSERT_EQ(table.k, 2);
    ASSERT_EQ(table.m, 2);

    // Cluster A, arm 0: n=2, R=0, C=0.5; arm 1: n=2, R=0.5, C=1.
    EXPECT_EQ(table.count[table.index(0, 0)], 2);
    EXPECT_DOUBLE_EQ(table.value[table.index(0, 0)], 0.0);
    EXPECT_DOUBLE_EQ(table.cost[table.index(0, 0)], 0.5);
    EXPECT_EQ(table.count[table.index(0, 1)], 2);
    EXPECT_DOUBLE_EQ(table.value[table.index(0, 1)], 0.5);
    EXPECT_DOUBLE_EQ(table.cost[table.index(0, 1)], 1.0);
    // Cluster B, arm 1: n=3, R=2/3, C=1.
    EXPECT_EQ(table.count[table.index(1, 1)], 3);
    EXPECT_NEAR(table.value[table.index(1, 1)], 0.6667, 5e-5);
    EXPECT_DOUBLE_EQ(table.cost[table.index(1, 1)], 1.0);
    // Cluster B, arm 0 has no rows: n=0 stays visible, the fallback is control's global mean
    // (R=0, C=0.5 from its two rows) and the cell is marked.
    EXPECT_EQ(table.count[table.index(1, 0)], 0);
    EXPECT_TRUE(table.filled[table.index(1, 0)]);
    EXPECT_DOUBLE_EQ(table.value[table.index(1, 0)], 0.0);
    EXPECT_DOUBLE_EQ(table.cost[table.index(1, 0)], 0.5);
    EXPECT_FALSE(table.filled[table.index(0, 0)]);
    EXPECT_FALSE(table.filled[table.index(1, 1)]);
    expect_no_nan(table);

    std::string csv = cluster_table_csv(table);
    EXPECT_NE(csv.find("\n1,0,300,0,0,0.5,"), std::string::npos) << csv;
    EXPECT_EQ(csv.find("nan"), std::string::npos) << csv;
}

TEST(EstimatesBC03, EmpiricalBayesShrinksTowardTheArmMean) {
    Dataset rct = read_binary_rct(test_data("BC-03.csv"));
    EstimateParams params;  // empirical Bayes, 20 prior rows
    ClusterTable table = estimate_clusters(rct, kBc03Labels.data(), 2, {1.0, 1.0}, params);
    // Arm 1 over all rows: conversions 1,0,1,0,1 -> 0.6; cluster A's two rows sum to 1.
    EXPECT_NEAR(table.value[table.index(0, 1)], (1.0 + 20 * 0.6) / 22.0, 1e-12);
    // Cluster B's arm 1: conversions 1,0,1 (sum 2) and visits 1,1,1 (sum 3, arm mean 1).
    EXPECT_NEAR(table.value[table.index(1, 1)], (2.0 + 20 * 0.6) / 23.0, 1e-12);
    EXPECT_NEAR(table.cost[table.index(1, 1)], 1.0, 1e-12);
    // The empty cell is exactly the arm's global mean.
    EXPECT_DOUBLE_EQ(table.value[table.index(1, 0)], 0.0);
    EXPECT_DOUBLE_EQ(table.cost[table.index(1, 0)], 0.5);
    EXPECT_TRUE(table.filled[table.index(1, 0)]);
    expect_no_nan(table);
}

TEST(EstimatesStandardErrors, SampleStandardDeviationOverRootN) {
    Dataset rct = read_binary_rct(test_data("BC-03.csv"));
    ClusterTable table = estimate_clusters(rct, kBc03Labels.data(), 2, {1.0, 1.0}, plain_means());
    // Cluster A, arm 1: conversions {1, 0}: sample sd sqrt(0.5), se sqrt(0.5) / sqrt(2) = 0.5.
    EXPECT_NEAR(table.value_se[table.index(0, 1)], 0.5, 1e-12);
    // Its visits {1, 1} do not vary.
    EXPECT_NEAR(table.cost_se[table.index(0, 1)], 0.0, 1e-12);
    // Cluster B, arm 1: conversions {1, 0, 1}: variance (2 * 1/9 + 4/9) / 2 = 1/3.
    EXPECT_NEAR(table.value_se[table.index(1, 1)], std::sqrt(1.0 / 3.0) / std::sqrt(3.0), 1e-12);
    // The empty cell has control's per-row sd: visits {1, 0}, sd sqrt(0.5).
    EXPECT_NEAR(table.cost_se[table.index(1, 0)], std::sqrt(0.5), 1e-12);

    EstimateParams bounded = plain_means();
    bounded.lcb_z = 2.0;
    ClusterTable lower = estimate_clusters(rct, kBc03Labels.data(), 2, {1.0, 1.0}, bounded);
    EXPECT_NEAR(lower.value[lower.index(0, 1)], 0.5 - 2.0 * 0.5, 1e-12);
    EXPECT_DOUBLE_EQ(lower.cost[lower.index(0, 1)], 1.0);
}

TEST(EstimatesBadInput, LabelOutOfRangeNamesTheLine) {
    Dataset rct = read_binary_rct(test_data("BC-03.csv"));
    std::vector<int32_t> labels = kBc03Labels;
    labels[2] = 5;  // data row 3, file line 4
    try {
        estimate_clusters(rct, labels.data(), 2, {1.0, 1.0});
        FAIL() << "label 5 accepted with K = 2";
    } catch (const InputError& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("BC-03.csv:4"), std::string::npos) << message;
        EXPECT_NE(message.find("5"), std::string::npos) << message;
    }
}

TEST(EstimatesBadInput, ArmWithoutRowsAndBadPopulation) {
    Dataset rct = read_binary_rct(test_data("BC-03.csv"));
    rct.m = 3;  // a third arm the data never used
    try {
        estimate_clusters(rct, kBc03Labels.data(), 2, {1.0, 1.0});
        FAIL() << "arm 2 without rows accepted";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("arm 2"), std::string::npos) << error.what();
    }
    rct.m = 2;
    EXPECT_THROW(estimate_clusters(rct, kBc03Labels.data(), 2, {1.0}), InputError);
    EXPECT_THROW(estimate_clusters(rct, kBc03Labels.data(), 2, {1.0, -3.0}), InputError);
}

TEST(EstimatesThinCells, WarningCountsThem) {
    Dataset rct = read_binary_rct(test_data("BC-03.csv"));
    testing::internal::CaptureStderr();
    estimate_clusters(rct, kBc03Labels.data(), 2, {1.0, 1.0});
    std::string log = testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("4 of 4 cells have fewer than 10 RCT rows (1 empty"), std::string::npos)
        << log;
}

TEST(EstimatesConfig, ReadsKeysAndRejectsBadOnes) {
    auto node = ConfigNode::from_json(
        nlohmann::json::parse(
            R"({"estimates": {"shrinkage": "none", "prior_rows": 5, "lcb_z": 1.5}})"),
        "run.json");
    EstimateParams params = EstimateParams::from_config(node.child("estimates"));
    EXPECT_EQ(params.shrinkage, "none");
    EXPECT_EQ(params.prior_rows, 5.0);
    EXPECT_EQ(params.lcb_z, 1.5);

    auto bad = ConfigNode::from_json(
        nlohmann::json::parse(R"({"estimates": {"shrinkage": "james_stein"}})"), "run.json");
    try {
        EstimateParams::from_config(bad.child("estimates"));
        FAIL() << "unknown shrinkage accepted";
    } catch (const ConfigError& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("estimates.shrinkage"), std::string::npos) << message;
        EXPECT_NE(message.find("james_stein"), std::string::npos) << message;
    }
    auto unknown =
        ConfigNode::from_json(nlohmann::json::parse(R"({"estimates": {"prior": 5}})"), "run.json");
    EXPECT_THROW(EstimateParams::from_config(unknown.child("estimates")), ConfigError);
}

}  // namespace
}  // namespace ca
