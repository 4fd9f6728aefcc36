// Ranking metrics for a binary treatment (one arm against control): AUCC, the area under the
// cumulative incremental cost-value curve, and the Qini curve in Radcliffe's form. Rows with
// equal scores form one block whose curve is the expected one over random orders inside the
// block, a straight segment, so neither metric depends on how ties happen to be ordered.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dataset.h"

namespace ca {

/// One point of an incremental curve.
struct CurvePoint {
    double cost = 0.0;   ///< cumulative incremental cost (treated / N_T - control / N_C)
    double value = 0.0;  ///< cumulative incremental value, same form
};

struct AuccParams {
    /// Q: the curve is sampled at Q equal cost steps, Q + 1 points counting cost 0.
    int points = 200;
    /// The arm compared with control (arm 0); rows of any other arm are left out.
    int treated_arm = 1;
};

struct AuccResult {
    /// Mean of the normalised curve over the Q + 1 sampled points: 1 at the whole-set point,
    /// about 0.5 for a random ranking.
    double aucc = 0.0;
    double total_cost = 0.0;   ///< whole-set incremental cost, Delta C_tot (> 0)
    double total_value = 0.0;  ///< whole-set incremental value, Delta R_tot (> 0)
    /// The Q + 1 sampled points in raw units; curve[j].cost = j / Q * total_cost.
    std::vector<CurvePoint> curve;
    int64_t treated_rows = 0;  ///< N_T
    int64_t control_rows = 0;  ///< N_C
};

/// AUCC of scores (N values, higher = treat first) on the rows of control and treated_arm.
/// The value at a cost x is that of the longest ranking prefix whose cumulative incremental
/// cost stays at or below x, interpolated inside the block where it first exceeds x. The
/// whole-set value and cost depend on the data only, so when either is not positive the
/// metric is undefined and this throws InputError; so do a missing arm and non-finite scores.
AuccResult aucc(const Dataset& data, const std::vector<double>& scores,
                const AuccParams& params = {});

/// The cumulative incremental (cost, value) after each tied block, starting at (0, 0): the
/// curve behind AUCC, for plotting.
std::vector<CurvePoint> cumulative_cost_curve(const Dataset& data,
                                              const std::vector<double>& scores,
                                              int treated_arm = 1);

/// Which observed outcome the Qini curve counts.
enum class QiniOutcome { kValue, kCost };

struct QiniParams {
    /// The arm compared with control (arm 0); rows of any other arm are left out.
    int treated_arm = 1;
    /// The outcome Y of Q(k) = Y_T(k) - Y_C(k) N_T(k) / N_C(k).
    QiniOutcome outcome = QiniOutcome::kValue;
};

struct QiniResult {
    /// Q(k) for k = 0..n (n = rows of the two arms), linear inside tied blocks; the control
    /// term is 0 while N_C(k) = 0.
    std::vector<double> points;
    double area = 0.0;         ///< trapezoid area under Q with x = k / n
    double random_area = 0.0;  ///< area of the random diagonal, Q(n) / 2
    double coefficient = 0.0;  ///< area - random_area
    /// The "perfect"-normalised Qini is defined for 0/1 outcomes only: for any other outcome
    /// the best-ranking curve is no upper bound, so the figure is withheld (and a warning
    /// logged) instead of printed.
    bool normalized_available = false;
    /// (area - random) / (perfect area - random) when available, else 0.
    double normalized = 0.0;
};

/// Qini curve of scores on the rows of control and treated_arm. InputError on a missing arm
/// or non-finite scores.
QiniResult qini(const Dataset& data, const std::vector<double>& scores,
                const QiniParams& params = {});

}  // namespace ca
