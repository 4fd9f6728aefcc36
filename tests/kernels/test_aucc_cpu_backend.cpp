// The CPU backend's ranking AUCC on a hand-computed ranking whose tie changes the answer, and
// its input errors (the messages the CUDA backend shares).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/errors.h"
#include "kernels/backend.h"

namespace ca {
namespace {

struct Rows {
    std::vector<double> score;
    std::vector<int32_t> arm;
    std::vector<float> value, cost;
};

// Two treated and two control rows plus one row of arm 2, which is left out. Scores 0.5 tie a
// control row (listed first) with a treated one.
Rows tied_rows() {
    return {{0.9, 0.5, 0.5, 0.1, 0.7}, {1, 0, 1, 0, 2}, {4, 2, 0, 0, 100}, {2, 1, 2, 1, 100}};
}

RankingAucc run(const Rows& r, int points, double* curve = nullptr) {
    return cpu_backend().ranking_aucc(r.score.data(), r.arm.data(), r.value.data(), r.cost.data(),
                                      int64_t(r.score.size()), 1, points, curve);
}

TEST(RankingAuccCpu, TiedRowsEnterTogether) {
    // By hand, N_T = N_C = 2. Blocks {row 0}, {rows 1, 2}, {row 3}: curve (0, 0), (1, 2),
    // (1.5, 1), (1, 1); totals cost 1, value 1. At x = 1 the first point above x is (1.5, 1),
    // so the value is that of (1, 2). Row by row with the control row first the curve would
    // pass (0.5, 1) and give 1 there instead.
    std::vector<double> curve(5);
    const RankingAucc result = run(tied_rows(), 4, curve.data());
    const std::vector<double> expected = {0.0, 0.5, 1.0, 1.5, 2.0};
    for (int j = 0; j < 5; ++j) EXPECT_DOUBLE_EQ(curve[j], expected[j]) << j;
    EXPECT_DOUBLE_EQ(result.total_cost, 1.0);
    EXPECT_DOUBLE_EQ(result.total_value, 1.0);
    EXPECT_DOUBLE_EQ(result.aucc, 1.0);
    EXPECT_EQ(result.treated_rows, 2);
    EXPECT_EQ(result.control_rows, 2);
}

void expect_input_error(const Rows& r, int points, const std::string& expected) {
    try {
        run(r, points);
        ADD_FAILURE() << "no InputError; expected one containing: " << expected;
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    }
}

TEST(RankingAuccCpu, BadInputIsAnInputError) {
    Rows r = tied_rows();
    r.score[4] = std::nan("");  // arm 2: left out, so not checked
    EXPECT_NO_THROW(run(r, 4));
    r.score[3] = std::nan("");
    expect_input_error(r, 4, "aucc input: row 3 (0-based): score is nan; expected a finite");
    expect_input_error(tied_rows(), 0, "at least 1 cost step, got points = 0");
    r = tied_rows();
    r.arm = {1, 2, 1, 2, 2};
    expect_input_error(r, 4, "needs rows of both, got 2 treated and 0 control rows");
    r = tied_rows();
    r.value = {0, 0, 0, 0, 0};
    expect_input_error(r, 4, "AUCC is undefined here");
}

}  // namespace
}  // namespace ca
