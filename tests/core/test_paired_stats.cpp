// Mean, standard deviation, Student t tails and the paired tests, against values worked out by
// hand, closed forms of the t distribution and t-table entries.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/errors.h"
#include "core/paired_stats.h"

namespace ca {
namespace {

const double kPi = 3.14159265358979323846;

TEST(StatsSummary, MeanAndSampleStdByHand) {
    // Mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32 over n - 1 = 7.
    std::vector<double> values = {2, 4, 4, 4, 5, 5, 7, 9};
    EXPECT_DOUBLE_EQ(sample_mean(values), 5.0);
    EXPECT_NEAR(sample_std(values), std::sqrt(32.0 / 7.0), 1e-12);
    SummaryStats summary = summarize(values);
    EXPECT_EQ(summary.n, 8);
    EXPECT_TRUE(summary.std_defined);
    EXPECT_NEAR(summary.std, std::sqrt(32.0 / 7.0), 1e-12);
}

TEST(StatsSummary, SingleValueHasNoSpreadAndEmptyIsAnError) {
    SummaryStats summary = summarize({3.5});
    EXPECT_EQ(summary.mean, 3.5);
    EXPECT_FALSE(summary.std_defined);
    EXPECT_THROW(sample_std({3.5}), InputError);
    EXPECT_THROW(summarize({}), InputError);
    EXPECT_THROW(summarize({1.0, NAN}), InputError);
}

TEST(StatsIncompleteBeta, MatchesClosedForms) {
    for (double x : {0.05, 0.3, 0.5, 0.77, 0.99}) {
        // I_x(a, 1) = x^a and I_x(1, b) = 1 - (1 - x)^b.
        EXPECT_NEAR(regularized_incomplete_beta(2.5, 1.0, x), std::pow(x, 2.5), 1e-12);
        EXPECT_NEAR(regularized_incomplete_beta(1.0, 3.0, x), 1 - std::pow(1 - x, 3.0), 1e-12);
        // Symmetry: I_x(a, b) = 1 - I_{1-x}(b, a).
        EXPECT_NEAR(regularized_incomplete_beta(4.0, 0.5, x),
                    1.0 - regularized_incomplete_beta(0.5, 4.0, 1 - x), 1e-12);
    }
    EXPECT_NEAR(regularized_incomplete_beta(7.0, 7.0, 0.5), 0.5, 1e-12);
    EXPECT_EQ(regularized_incomplete_beta(2.0, 3.0, 0.0), 0.0);
    EXPECT_EQ(regularized_incomplete_beta(2.0, 3.0, 1.0), 1.0);
}

TEST(StatsStudentT, ClosedFormsForOneAndTwoDegreesOfFreedom) {
    for (double t : {0.1, 0.7, 1.5, 4.0, 30.0}) {
        // df = 1 is the Cauchy distribution; df = 2 has the tail 1 - t / sqrt(2 + t^2).
        EXPECT_NEAR(student_t_two_sided_p(t, 1.0), 1.0 - 2.0 / kPi * std::atan(t), 1e-12);
        EXPECT_NEAR(student_t_two_sided_p(-t, 2.0), 1.0 - t / std::sqrt(2.0 + t * t), 1e-12);
    }
    EXPECT_EQ(student_t_two_sided_p(0.0, 5.0), 1.0);
}

TEST(StatsStudentT, TableCriticalValuesGiveFivePercent) {
    // Two-sided 5 % critical values from a printed t table (three decimals).
    struct Row {
        double t, df;
    };
    for (Row row : {Row{12.706, 1}, Row{2.776, 4}, Row{2.228, 10}, Row{2.042, 30}})
        EXPECT_NEAR(student_t_two_sided_p(row.t, row.df), 0.05, 2e-4) << "df " << row.df;
    // Large df approaches the normal: 1.960 -> 5 %.
    EXPECT_NEAR(student_t_two_sided_p(1.95996, 1e7), 0.05, 1e-5);
    EXPECT_NEAR(2 * normal_upper_tail(1.959964), 0.05, 1e-6);
}

TEST(StatsPairedT, HandComputedExample) {
    // Differences 1,1,2,1,3: mean 1.6, sum of squared deviations 3.2, sd = sqrt(0.8),
    // standard error 0.4, t = 4 with df = 4.
    std::vector<double> a = {1, 2, 3, 4, 5};
    std::vector<double> b = {0, 1, 1, 3, 2};
    PairedTestResult result = paired_t_test(a, b);
    EXPECT_EQ(result.n, 5);
    EXPECT_NEAR(result.mean_diff, 1.6, 1e-12);
    EXPECT_NEAR(result.std_diff, std::sqrt(0.8), 1e-12);
    EXPECT_NEAR(result.t, 4.0, 1e-12);
    EXPECT_EQ(result.df, 4.0);
    // For df = 4, P(|T| < t) = I_y(1/2, 2) with y = t^2 / (4 + t^2); integrating
    // s^(-1/2) (1 - s) gives I_y = 1.5 sqrt(y) - 0.5 y^1.5.
    double y = 16.0 / 20.0;
    EXPECT_NEAR(result.p_value, 1.0 - (1.5 * std::sqrt(y) - 0.5 * std::pow(y, 1.5)), 1e-12);
    // Swapping the samples flips the sign only.
    PairedTestResult swapped = paired_t_test(b, a);
    EXPECT_NEAR(swapped.t, -4.0, 1e-12);
    EXPECT_NEAR(swapped.p_value, result.p_value, 1e-15);
}

TEST(StatsPairedT, DegenerateInputs) {
    EXPECT_EQ(paired_t_test({1, 2, 3}, {1, 2, 3}).p_value, 1.0);
    EXPECT_EQ(paired_t_test({2, 3, 4}, {1, 2, 3}).p_value, 0.0);
    EXPECT_THROW(paired_t_test({1, 2, 3}, {1, 2}), InputError);
    EXPECT_THROW(paired_t_test({1}, {2}), InputError);
    EXPECT_THROW(paired_t_test({1, INFINITY}, {2, 3}), InputError);
}

TEST(StatsWilcoxon, ExactNullByEnumeration) {
    // Five positive differences: W+ = 15 is the single most extreme of 2^5 sign patterns on
    // each side, so p = 2/32.
    WilcoxonResult all_up = wilcoxon_signed_rank({2, 3, 4, 5, 6}, {1, 1, 1, 1, 1});
    EXPECT_TRUE(all_up.exact);
    EXPECT_EQ(all_up.w_plus, 15.0);
    EXPECT_NEAR(all_up.p_value, 2.0 / 32.0, 1e-15);
    // Differences 1, -2, 3, 4, 5: W- = 2; sign patterns with W- <= 2 are {}, {1}, {2}.
    WilcoxonResult mixed = wilcoxon_signed_rank({1, -2, 3, 4, 5}, {0, 0, 0, 0, 0});
    EXPECT_EQ(mixed.w_plus, 13.0);
    EXPECT_EQ(mixed.w_minus, 2.0);
    EXPECT_NEAR(mixed.p_value, 6.0 / 32.0, 1e-15);
    // Zero differences are dropped: six pairs, one of them equal.
    WilcoxonResult with_zero = wilcoxon_signed_rank({2, 3, 4, 5, 6, 7}, {1, 1, 1, 1, 1, 7});
    EXPECT_EQ(with_zero.n, 5);
    EXPECT_NEAR(with_zero.p_value, 2.0 / 32.0, 1e-15);
}

TEST(StatsWilcoxon, NormalApproximationForLargeOrTiedSamples) {
    // Thirty positive differences: mean 232.5, variance 30*31*61/24, W+ = 465.
    std::vector<double> a(30), b(30, 0.0);
    for (int i = 0; i < 30; ++i) a[i] = i + 1;
    WilcoxonResult result = wilcoxon_signed_rank(a, b);
    EXPECT_FALSE(result.exact);
    double z = (465.0 - 232.5 - 0.5) / std::sqrt(30.0 * 31 * 61 / 24);
    EXPECT_NEAR(result.p_value, std::erfc(z / std::sqrt(2.0)), 1e-15);
    // Ties: magnitudes 1, 1, 2 get ranks 1.5, 1.5, 3; the tie term is 2^3 - 2 = 6.
    WilcoxonResult tied = wilcoxon_signed_rank({1, -1, 2}, {0, 0, 0});
    EXPECT_FALSE(tied.exact);
    EXPECT_EQ(tied.w_plus, 4.5);
    EXPECT_EQ(tied.w_minus, 1.5);
    double variance = 3 * 4 * 7 / 24.0 - 6.0 / 48.0;
    EXPECT_NEAR(tied.p_value, std::erfc((1.5 - 0.5) / std::sqrt(variance) / std::sqrt(2.0)), 1e-15);
}

}  // namespace
}  // namespace ca
