// Fixed-order sums: part plans tile the rows and the parts, the tree order is the one stated
// (checked on numbers where another order gives another result), and any number of ranks
// (threads standing in for MPI processes) gets the 1-rank bits.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/ordered_sum.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

using testing::run_on_ranks;
using testing::ShardOnlyCommunicator;

TEST(OrderedSumPlanTest, PartsTileTheRowsAndRanksTileTheParts) {
    for (int64_t rows : {0, 1, 5, 63, 64, 1000, 100003}) {
        for (int ranks : {1, 2, 3, 5, 64, 100}) {
            int next_part = 0;
            int64_t next_row = 0;
            for (int r = 0; r < ranks; ++r) {
                SumPlan plan(rows, ShardOnlyCommunicator(r, ranks));
                EXPECT_EQ(plan.first_part(), next_part) << rows << " rows, rank " << r;
                EXPECT_GE(plan.end_part(), plan.first_part());
                EXPECT_EQ(plan.own_rows().begin, next_row) << rows << " rows, rank " << r;
                next_part = plan.end_part();
                next_row = plan.own_rows().end;
                for (int p = plan.first_part(); p < plan.end_part(); ++p) {
                    // Part sizes differ by at most one row.
                    EXPECT_LE(plan.part_rows(p).size(), rows / kRowSumParts + 1);
                    EXPECT_GE(plan.part_rows(p).size(), rows / kRowSumParts);
                }
            }
            EXPECT_EQ(next_part, kRowSumParts) << rows << " rows over " << ranks << " ranks";
            EXPECT_EQ(next_row, rows) << rows << " rows over " << ranks << " ranks";
        }
    }
}

// Per-part values for which the order of addition shows in the result.
std::vector<double> cancelling_parts(int parts, uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> values;
    for (int p = 0; p < parts; ++p) values.push_back(std::ldexp(uniform(engine), int(p % 7) * 9));
    return values;
}

std::vector<double> sum_on(Communicator& comm, const std::vector<double>& part_values, int parts) {
    SumPlan plan(1000, comm, parts);
    OrderedSum<double> sum(plan, 2);
    for (int p = plan.first_part(); p < plan.end_part(); ++p) {
        double pair[2] = {part_values[size_t(p)], -2.0 * part_values[size_t(p)]};
        sum.add_part(pair);
    }
    return sum.total(comm);
}

TEST(OrderedSumTest, AddsAlongTheBalancedTreeByHand) {
    // Four parts (1e16, 1, -1e16, 1): the tree gives (1e16 + 1) + (-1e16 + 1) = 1e16 - 1e16 = 0
    // (1 is below half the spacing of doubles near 1e16), whereas left to right gives 1.
    std::vector<double> values = {1e16, 1.0, -1e16, 1.0};
    for (int ranks : {1, 2, 3, 4}) {
        auto totals = run_on_ranks<std::vector<double>>(
            ranks, [&](Communicator& comm) { return sum_on(comm, values, 4); });
        for (const auto& total : totals) {
            EXPECT_EQ(total[0], 0.0) << ranks << " ranks";
            EXPECT_EQ(total[1], 0.0) << ranks << " ranks";
        }
    }
}

TEST(OrderedSumTest, EveryRankCountGivesTheOneRankBits) {
    std::vector<double> values = cancelling_parts(kRowSumParts, 3);
    std::vector<double> one = sum_on(local_communicator(), values, kRowSumParts);
    // A plain left-to-right sum differs from the tree's here, so bit equality is a real check.
    double left_to_right = 0.0;
    for (double value : values) left_to_right += value;
    EXPECT_NE(left_to_right, one[0]);
    EXPECT_NEAR(left_to_right, one[0], 1e-9 * std::abs(left_to_right) + 1e-9);
    for (int ranks : {2, 3, 5, 7, 64, 70}) {
        auto totals = run_on_ranks<std::vector<double>>(
            ranks, [&](Communicator& comm) { return sum_on(comm, values, kRowSumParts); });
        for (const auto& total : totals) EXPECT_EQ(total, one) << ranks << " ranks";
    }
}

TEST(OrderedSumTest, FloatSumsAndSingleNumbersFollowTheSameOrder) {
    std::vector<double> values = cancelling_parts(8, 4);
    auto float_total = [&](Communicator& comm) {
        SumPlan plan(8, comm, 8);
        OrderedSum<float> sum(plan, 1);
        for (int p = plan.first_part(); p < plan.end_part(); ++p) {
            float value = float(values[size_t(p)]);
            sum.add_part(&value);
        }
        return sum.total(comm)[0];
    };
    auto double_total = [&](Communicator& comm) {
        SumPlan plan(8, comm, 8);
        std::vector<double> own(values.begin() + plan.first_part(),
                                values.begin() + plan.end_part());
        return ordered_total(plan, own, comm);
    };
    float one_float = float_total(local_communicator());
    double one_double = double_total(local_communicator());
    // By hand: ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7)).
    auto v = [&](int i) { return values[size_t(i)]; };
    EXPECT_EQ(one_double, ((v(0) + v(1)) + (v(2) + v(3))) + ((v(4) + v(5)) + (v(6) + v(7))));
    for (int ranks : {2, 3, 6, 9}) {
        for (float total : run_on_ranks<float>(ranks, float_total))
            EXPECT_EQ(total, one_float) << ranks << " ranks";
        for (double total : run_on_ranks<double>(ranks, double_total))
            EXPECT_EQ(total, one_double) << ranks << " ranks";
    }
}

TEST(OrderedSumTest, NegativeZeroIsReportedAsZeroOnEveryRankCount) {
    std::vector<double> values(4, -0.0);
    for (int ranks : {1, 2}) {
        auto totals = run_on_ranks<std::vector<double>>(
            ranks, [&](Communicator& comm) { return sum_on(comm, values, 4); });
        EXPECT_FALSE(std::signbit(totals[0][0])) << ranks << " ranks";
    }
}

}  // namespace
}  // namespace ca
