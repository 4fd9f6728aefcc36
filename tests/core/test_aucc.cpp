// AUCC and Qini: the tied-score and continuous-outcome cases, hand-computed tables, the
// invariance to row order inside ties, and a random ranking scoring about one half.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/aucc.h"
#include "core/errors.h"
#include "core/synthetic_generator.h"

namespace ca {
namespace {

// A small comma-split of the case files (no quoting in them): binary treatment, value and
// cost read from the named columns, plus the score column.
struct CaseTable {
    Dataset data;
    std::vector<double> score;
};

CaseTable read_case(const std::string& name, const std::string& value_column, bool reversed) {
    const char* folder = std::getenv("CA_TEST_DATA");
    std::string path = std::string(folder ? folder : "tests/data") + "/" + name;
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path;
    std::string line;
    std::vector<std::vector<std::string>> rows;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        std::vector<std::string> fields;
        std::stringstream split(line);
        for (std::string field; std::getline(split, field, ',');) fields.push_back(field);
        rows.push_back(fields);
    }
    std::map<std::string, size_t> column;
    for (size_t c = 0; c < rows[0].size(); ++c) column[rows[0][c]] = c;
    if (reversed) std::reverse(rows.begin() + 1, rows.end());
    CaseTable table;
    table.data.source = path;
    table.data.m = 2;
    for (size_t r = 1; r < rows.size(); ++r) {
        table.data.arm.push_back(std::stoi(rows[r][column.at("treatment")]));
        table.data.value.push_back(std::stof(rows[r][column.at(value_column)]));
        table.data.cost.push_back(std::stof(rows[r][column.at("visit")]));
        table.score.push_back(std::stod(rows[r][column.at("score")]));
    }
    table.data.n = int64_t(table.data.arm.size());
    return table;
}

Dataset binary_table(const std::vector<int32_t>& arm, const std::vector<float>& value,
                     const std::vector<float>& cost) {
    Dataset data;
    data.source = "hand table";
    data.m = 2;
    data.n = int64_t(arm.size());
    data.arm = arm;
    data.value = value;
    data.cost = cost;
    return data;
}

TEST(AuccTiedScores, AllTiedIsOneHalfForAnyQAndRowOrder) {
    // Every score equal: the curve is the straight segment from (0, 0) to (1, 0.25).
    for (bool reversed : {false, true}) {
        CaseTable table = read_case("BC-01.csv", "conversion", reversed);
        for (int q : {1, 4, 20, 200}) {
            AuccParams params;
            params.points = q;
            AuccResult result = aucc(table.data, table.score, params);
            EXPECT_NEAR(result.aucc, 0.5, 1e-12) << "Q=" << q << " reversed=" << reversed;
            EXPECT_NEAR(result.total_cost, 1.0, 1e-12);
            EXPECT_NEAR(result.total_value, 0.25, 1e-12);
            EXPECT_EQ(result.treated_rows, 4);
            EXPECT_EQ(result.control_rows, 4);
            ASSERT_EQ(result.curve.size(), size_t(q + 1));
            EXPECT_NEAR(result.curve[q].value, 0.25, 1e-12);
        }
        std::vector<CurvePoint> curve = cumulative_cost_curve(table.data, table.score);
        ASSERT_EQ(curve.size(), 2u);
        EXPECT_NEAR(curve[1].cost, 1.0, 1e-12);
        EXPECT_NEAR(curve[1].value, 0.25, 1e-12);
    }
}

TEST(QiniTiedScores, AllTiedHasZeroCoefficient) {
    for (bool reversed : {false, true}) {
        CaseTable table = read_case("BC-01.csv", "conversion", reversed);
        QiniResult result = qini(table.data, table.score);
        EXPECT_NEAR(result.coefficient, 0.0, 1e-12) << "reversed=" << reversed;
        EXPECT_NEAR(result.area, result.random_area, 1e-12);
    }
}

TEST(QiniContinuousOutcome, RadcliffePointsAndAreasWithoutPerfectNormalisation) {
    CaseTable table = read_case("BC-12.csv", "spend", false);
    QiniResult result = qini(table.data, table.score);
    std::vector<double> expected = {0, 120, 120, 120, 90, 90, 105};
    ASSERT_EQ(result.points.size(), expected.size());
    for (size_t k = 0; k < expected.size(); ++k)
        EXPECT_NEAR(result.points[k], expected[k], 1e-9) << "k=" << k;
    EXPECT_NEAR(result.area, 98.75, 1e-9);
    EXPECT_NEAR(result.random_area, 52.5, 1e-9);
    EXPECT_NEAR(result.coefficient, 46.25, 1e-9);
    EXPECT_FALSE(result.normalized_available);
    EXPECT_EQ(result.normalized, 0.0);
}

TEST(QiniBinaryOutcome, PerfectAndReversedRankingsByHand) {
    // Treated responder, control non-responder, treated non-responder, control responder.
    Dataset data = binary_table({1, 0, 1, 0}, {1, 0, 0, 1}, {1, 1, 1, 1});
    // Best first: Q = 0, 1, 1, 1, 1 - 1 * 2/2 = 0; area (0.5 + 1 + 1 + 0.5) / 4 = 0.75.
    QiniResult best = qini(data, {0.9, 0.8, 0.7, 0.6});
    EXPECT_NEAR(best.area, 0.75, 1e-12);
    EXPECT_NEAR(best.random_area, 0.0, 1e-12);
    ASSERT_TRUE(best.normalized_available);
    EXPECT_NEAR(best.normalized, 1.0, 1e-12);
    // Worst first: Q = 0, 0, -1, -1/2, 0; area (0 - 0.5 - 0.75 - 0.25) / 4 = -0.375.
    QiniResult worst = qini(data, {0.6, 0.7, 0.8, 0.9});
    EXPECT_NEAR(worst.area, -0.375, 1e-12);
    ASSERT_TRUE(worst.normalized_available);
    EXPECT_NEAR(worst.normalized, -0.5, 1e-12);
}

TEST(AuccHandTable, PerfectRankingByHand) {
    // N_T = N_C = 2. Ranked rows: treated (value 1, cost 1), control (0, 0), treated (0, 1),
    // control (0, 0). Curve (0,0) -> (0.5, 0.5) -> (0.5, 0.5) -> (1, 0.5) -> (1, 0.5).
    // Normalised by 0.5 it is y = 2x up to x = 0.5, then 1.
    Dataset data = binary_table({1, 0, 1, 0}, {1, 0, 0, 0}, {1, 0, 1, 0});
    std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
    AuccParams params;
    params.points = 4;  // y at x = 0, .25, .5, .75, 1: 0, .5, 1, 1, 1
    EXPECT_NEAR(aucc(data, scores, params).aucc, 3.5 / 5, 1e-12);
    params.points = 2;  // 0, 1, 1
    EXPECT_NEAR(aucc(data, scores, params).aucc, 2.0 / 3, 1e-12);
    // Many steps approach the area under the curve, 0.25 + 0.5.
    params.points = 20000;
    EXPECT_NEAR(aucc(data, scores, params).aucc, 0.75, 1e-4);
    // The reversed ranking spends on nothing useful first and scores below one half.
    EXPECT_LT(aucc(data, {0.6, 0.7, 0.8, 0.9}, params).aucc, 0.5);
}

// A table with some uplift and coarse (heavily tied) scores.
struct RandomTable {
    Dataset data;
    std::vector<double> score;
};

RandomTable random_table(int n, unsigned seed, int score_levels) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<int32_t> arm(n);
    std::vector<float> value(n), cost(n);
    RandomTable table;
    for (int i = 0; i < n; ++i) {
        double propensity_to_buy = uniform(rng);
        arm[i] = uniform(rng) < 0.5;
        double lift = arm[i] ? 0.3 * propensity_to_buy : 0.0;
        value[i] = uniform(rng) < 0.1 + lift;
        cost[i] = uniform(rng) < (arm[i] ? 0.6 : 0.3);
        table.score.push_back(std::floor(uniform(rng) * score_levels));
    }
    table.data = binary_table(arm, value, cost);
    return table;
}

TEST(AuccTiedScores, PermutingRowsChangesNothing) {
    RandomTable table = random_table(500, 7, 6);
    AuccResult base = aucc(table.data, table.score);
    QiniResult base_qini = qini(table.data, table.score);
    std::vector<int64_t> rows(table.data.n);
    for (int64_t i = 0; i < table.data.n; ++i) rows[i] = i;
    std::mt19937 rng(11);
    for (int trial = 0; trial < 3; ++trial) {
        std::shuffle(rows.begin(), rows.end(), rng);
        Dataset shuffled = table.data.subset(rows);
        std::vector<double> scores;
        for (int64_t r : rows) scores.push_back(table.score[r]);
        EXPECT_NEAR(aucc(shuffled, scores).aucc, base.aucc, 1e-12);
        EXPECT_NEAR(qini(shuffled, scores).area, base_qini.area, 1e-9);
    }
}

TEST(AuccRandomRanking, AveragesAboutOneHalf) {
    RandomTable table = random_table(4000, 3, 1000000);
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    double sum = 0.0;
    const int draws = 20;
    for (int draw = 0; draw < draws; ++draw) {
        for (double& s : table.score) s = uniform(rng);
        sum += aucc(table.data, table.score).aucc;
    }
    EXPECT_NEAR(sum / draws, 0.5, 0.03);
}

TEST(AuccRandomRanking, TrueReturnOnCostRanksAboveRandomOnSyntheticData) {
    // One coupon against control; ranking by the true incremental value per incremental cost
    // must beat a random ranking of the same rows.
    SyntheticParams params;
    params.rows = 20000;
    params.arms = 2;
    params.seed = 5;
    Dataset data = generate_synthetic(params);
    std::vector<double> true_roi(data.n), random_scores(data.n);
    std::mt19937 rng(2);
    for (int64_t i = 0; i < data.n; ++i) {
        const float* tv = data.true_value.data() + i * 2;
        const float* tc = data.true_cost.data() + i * 2;
        true_roi[i] = (tv[1] - tv[0]) / (tc[1] - tc[0]);
        random_scores[i] = std::uniform_real_distribution<double>(0, 1)(rng);
    }
    double best = aucc(data, true_roi).aucc;
    double random = aucc(data, random_scores).aucc;
    EXPECT_NEAR(random, 0.5, 0.1);
    EXPECT_GT(best, random + 0.1);
}

TEST(AuccErrors, MissingArmNonFiniteScoreAndNoIncrementalCost) {
    Dataset treated_only = binary_table({1, 1}, {1, 0}, {1, 1});
    EXPECT_THROW(aucc(treated_only, {0.1, 0.2}), InputError);
    Dataset data = binary_table({1, 0, 1, 0}, {1, 0, 0, 0}, {1, 0, 1, 0});
    data.source = "users.csv";
    data.source_line = {2, 3, 4, 5};
    try {
        aucc(data, {0.1, NAN, 0.3, 0.4});
        ADD_FAILURE() << "no error for a NaN score";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("users.csv:3"), std::string::npos) << error.what();
    }
    // Treated and control spend the same: no incremental cost to spread a budget over.
    Dataset flat = binary_table({1, 0, 1, 0}, {1, 0, 0, 0}, {1, 1, 0, 0});
    EXPECT_THROW(aucc(flat, {0.1, 0.2, 0.3, 0.4}), InputError);
}

}  // namespace
}  // namespace ca
