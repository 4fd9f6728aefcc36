// Statistics for reporting figures over seeds: mean, sample standard deviation, the paired
// t-test and the Wilcoxon signed-rank test between two methods' per-seed figures. The Student t
// tail comes from the regularised incomplete beta function, evaluated here, so no statistics
// library is needed.
#pragma once

#include <cstdint>
#include <vector>

namespace ca {

/// Mean and spread of one figure over seeds.
struct SummaryStats {
    int64_t n = 0;             ///< number of values
    double mean = 0.0;         ///< arithmetic mean
    double std = 0.0;          ///< sample standard deviation (n - 1); 0 when n < 2
    bool std_defined = false;  ///< false when n < 2: a single seed has no spread to report
};

/// Arithmetic mean; InputError on an empty list.
double sample_mean(const std::vector<double>& values);
/// Standard deviation with the n - 1 denominator; InputError when n < 2.
double sample_std(const std::vector<double>& values);
/// Mean and standard deviation together; InputError on an empty list or a non-finite value.
SummaryStats summarize(const std::vector<double>& values);

/// I_x(a, b), the regularised incomplete beta function, for a, b > 0 and x in [0, 1].
double regularized_incomplete_beta(double a, double b, double x);
/// P(|T| >= |t|) for Student's t with df > 0 degrees of freedom.
double student_t_two_sided_p(double t, double df);
/// P(Z >= z) for a standard normal Z.
double normal_upper_tail(double z);

/// Paired t-test of a against b (same seeds, same order): H0 mean(a - b) = 0, two-sided.
struct PairedTestResult {
    int64_t n = 0;           ///< number of pairs
    double mean_diff = 0.0;  ///< mean of a - b
    double std_diff = 0.0;   ///< sample standard deviation of a - b
    double t = 0.0;          ///< t statistic; 0 when every difference is 0
    double df = 0.0;         ///< n - 1
    double p_value = 1.0;    ///< two-sided
};
/// InputError when the sizes differ, n < 2 or a value is not finite. Identical pairs give
/// p = 1; a constant non-zero difference gives p = 0 (the t statistic is infinite).
PairedTestResult paired_t_test(const std::vector<double>& a, const std::vector<double>& b);

/// Wilcoxon signed-rank test of a against b, two-sided. Zero differences are dropped, tied
/// magnitudes share their average rank.
struct WilcoxonResult {
    int64_t n = 0;         ///< pairs with a non-zero difference
    double w_plus = 0.0;   ///< rank sum of the positive differences
    double w_minus = 0.0;  ///< rank sum of the negative differences
    double p_value = 1.0;  ///< two-sided
    bool exact = false;    ///< exact null distribution (n <= 25, no ties) or normal approximation
};
/// InputError when the sizes differ or a value is not finite. No non-zero difference gives p = 1.
WilcoxonResult wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace ca
