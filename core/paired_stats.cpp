// Mean, spread and paired tests. The incomplete beta function is summed as its continued
// fraction with the modified Lentz method, switching to the symmetric form where that
// fraction converges slowly.
#include "core/paired_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.h"

namespace ca {

namespace {

void check_finite(const std::vector<double>& values, const char* what) {
    for (size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            CA_THROW(InputError,
                     what << "[" << i << "] is " << values[i] << "; expected a finite number");
}

std::vector<double> differences(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size())
        CA_THROW(InputError, "paired test needs equal sizes, got " << a.size() << " and "
                                                                   << b.size() << " values");
    check_finite(a, "first sample");
    check_finite(b, "second sample");
    std::vector<double> diff(a.size());
    for (size_t i = 0; i < a.size(); ++i) diff[i] = a[i] - b[i];
    return diff;
}

// k-th partial numerator (k >= 1) of the continued fraction of I_x(a, b).
double beta_fraction_term(double a, double b, double x, int k) {
    if (k % 2 == 1) {
        double m = (k - 1) / 2;
        return -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
    }
    double m = k / 2;
    return m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
}

// 1 / (1 + d1 / (1 + d2 / (1 + ...))) by the modified Lentz method.
double beta_continued_fraction(double a, double b, double x) {
    const double tiny = 1e-300;
    const double tolerance = 1e-15;
    const int max_terms = 20000;
    double f = tiny, c = tiny, d = 0.0;
    for (int j = 1; j <= max_terms; ++j) {
        double numerator = j == 1 ? 1.0 : beta_fraction_term(a, b, x, j - 1);
        d = 1.0 + numerator * d;
        if (std::fabs(d) < tiny) d = tiny;
        d = 1.0 / d;
        c = 1.0 + numerator / c;
        if (std::fabs(c) < tiny) c = tiny;
        double delta = c * d;
        f *= delta;
        if (std::fabs(delta - 1.0) < tolerance) return f;
    }
    CA_ASSERT_MSG(false,
                  "incomplete beta did not converge for a=" << a << " b=" << b << " x=" << x);
    return f;
}

// Exact two-sided p of the signed-rank statistic: the null counts of every rank sum of
// {1..n} with each rank's sign a fair coin.
double wilcoxon_exact_p(int64_t n, double w_plus) {
    int64_t max_sum = n * (n + 1) / 2;
    std::vector<double> ways(max_sum + 1, 0.0);
    ways[0] = 1.0;
    for (int64_t rank = 1; rank <= n; ++rank)
        for (int64_t s = max_sum; s >= rank; --s) ways[s] += ways[s - rank];
    double total = std::ldexp(1.0, static_cast<int>(n));
    auto w = static_cast<int64_t>(std::llround(w_plus));
    double lower = 0.0, upper = 0.0;
    for (int64_t s = 0; s <= max_sum; ++s) {
        if (s <= w) lower += ways[s];
        if (s >= w) upper += ways[s];
    }
    return std::min(1.0, 2.0 * std::min(lower, upper) / total);
}

// Normal approximation with the tie correction and a continuity correction of 1/2.
double wilcoxon_normal_p(int64_t n, double w_plus, double tie_term) {
    double mean = n * (n + 1) / 4.0;
    double variance = n * (n + 1) * (2.0 * n + 1) / 24.0 - tie_term / 48.0;
    if (variance <= 0.0) return 1.0;
    double z = std::max(0.0, std::fabs(w_plus - mean) - 0.5) / std::sqrt(variance);
    return std::min(1.0, 2.0 * normal_upper_tail(z));
}

}  // namespace

double sample_mean(const std::vector<double>& values) {
    if (values.empty()) CA_THROW(InputError, "mean of an empty list of values");
    return std::accumulate(values.begin(), values.end(), 0.0) / double(values.size());
}

double sample_std(const std::vector<double>& values) {
    if (values.size() < 2)
        CA_THROW(InputError,
                 "sample standard deviation needs at least 2 values, got " << values.size());
    double mean = sample_mean(values);
    double squares = 0.0;
    for (double v : values) squares += (v - mean) * (v - mean);
    return std::sqrt(squares / double(values.size() - 1));
}

SummaryStats summarize(const std::vector<double>& values) {
    check_finite(values, "values");
    SummaryStats out;
    out.n = static_cast<int64_t>(values.size());
    out.mean = sample_mean(values);
    out.std_defined = values.size() >= 2;
    if (out.std_defined) out.std = sample_std(values);
    return out;
}

double regularized_incomplete_beta(double a, double b, double x) {
    CA_ASSERT_MSG(a > 0 && b > 0 && x >= 0 && x <= 1, "a=" << a << " b=" << b << " x=" << x);
    if (x == 0.0 || x == 1.0) return x;
    // The fraction converges fast below the mean of Beta(a, b); above it use
    // I_x(a, b) = 1 - I_{1-x}(b, a).
    if (x > (a + 1) / (a + b + 2)) return 1.0 - regularized_incomplete_beta(b, a, 1.0 - x);
    double log_front =
        a * std::log(x) + b * std::log1p(-x) + std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b);
    return std::exp(log_front) / a * beta_continued_fraction(a, b, x);
}

double student_t_two_sided_p(double t, double df) {
    CA_ASSERT_MSG(df > 0 && !std::isnan(t), "t=" << t << " df=" << df);
    if (std::isinf(t)) return 0.0;
    return regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
}

double normal_upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

PairedTestResult paired_t_test(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> diff = differences(a, b);
    if (diff.size() < 2)
        CA_THROW(InputError, "paired t-test needs at least 2 pairs, got " << diff.size());
    PairedTestResult out;
    out.n = static_cast<int64_t>(diff.size());
    out.df = double(out.n - 1);
    out.mean_diff = sample_mean(diff);
    out.std_diff = sample_std(diff);
    if (out.std_diff == 0.0) {
        // No spread: either no difference at all or a certain one.
        out.t = out.mean_diff == 0.0 ? 0.0 : std::copysign(INFINITY, out.mean_diff);
        out.p_value = out.mean_diff == 0.0 ? 1.0 : 0.0;
        return out;
    }
    out.t = out.mean_diff / (out.std_diff / std::sqrt(double(out.n)));
    out.p_value = student_t_two_sided_p(out.t, out.df);
    return out;
}

WilcoxonResult wilcoxon_signed_rank(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> diff = differences(a, b);
    diff.erase(std::remove(diff.begin(), diff.end(), 0.0), diff.end());
    WilcoxonResult out;
    out.n = static_cast<int64_t>(diff.size());
    if (out.n == 0) return out;

    // Rank the magnitudes; a run of equal magnitudes shares its average rank.
    std::vector<size_t> order(diff.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t i, size_t j) { return std::fabs(diff[i]) < std::fabs(diff[j]); });
    double tie_term = 0.0;
    for (size_t start = 0; start < order.size();) {
        size_t end = start;
        while (end < order.size() && std::fabs(diff[order[end]]) == std::fabs(diff[order[start]]))
            ++end;
        double rank = (start + 1 + end) / 2.0;
        double run = double(end - start);
        tie_term += run * run * run - run;
        for (size_t k = start; k < end; ++k)
            (diff[order[k]] > 0 ? out.w_plus : out.w_minus) += rank;
        start = end;
    }

    out.exact = out.n <= 25 && tie_term == 0.0;
    out.p_value = out.exact ? wilcoxon_exact_p(out.n, out.w_plus)
                            : wilcoxon_normal_p(out.n, out.w_plus, tie_term);
    return out;
}

}  // namespace ca
