// AUCC and Qini: rank the rows of two arms by score, group equal scores into blocks, build the
// cumulative curve at block ends and interpolate linearly inside blocks.
#include "core/aucc.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.h"
#include "core/log.h"

namespace ca {

namespace {

// Rows of control and the treated arm, best score first; blocks of equal scores.
struct RankedRows {
    std::vector<int64_t> order;      ///< row indices by descending score
    std::vector<size_t> block_ends;  ///< end offsets into order, one per block
    int64_t treated = 0;             ///< N_T
    int64_t control = 0;             ///< N_C
};

std::string row_name(const Dataset& data, int64_t row) {
    if (int64_t(data.source_line.size()) == data.n)
        return data.source + ":" + std::to_string(data.source_line[row]);
    return data.source + ": data row " + std::to_string(row + 1);
}

void check_binary_comparison(const Dataset& data, const std::vector<double>& scores,
                             int treated_arm) {
    if (int64_t(scores.size()) != data.n)
        CA_THROW(InputError,
                 data.source << ": " << scores.size() << " scores given for " << data.n << " rows");
    if (treated_arm < 1 || treated_arm >= data.m)
        CA_THROW(InputError, data.source << ": treated arm " << treated_arm
                                         << " is not a treatment arm; expected 1.." << data.m - 1);
}

RankedRows rank_rows(const Dataset& data, const std::vector<double>& scores, int treated_arm,
                     bool tie_blocks) {
    check_binary_comparison(data, scores, treated_arm);
    RankedRows ranked;
    for (int64_t i = 0; i < data.n; ++i) {
        if (data.arm[i] != 0 && data.arm[i] != treated_arm) continue;
        if (!std::isfinite(scores[i]))
            CA_THROW(InputError, row_name(data, i)
                                     << ": score is " << scores[i] << "; expected a finite number");
        ranked.order.push_back(i);
        (data.arm[i] == 0 ? ranked.control : ranked.treated) += 1;
    }
    if (ranked.treated == 0 || ranked.control == 0)
        CA_THROW(InputError, data.source << ": comparing arm " << treated_arm
                                         << " with control needs rows of both, got "
                                         << ranked.treated << " treated and " << ranked.control
                                         << " control rows");
    std::stable_sort(ranked.order.begin(), ranked.order.end(),
                     [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
    for (size_t k = 1; k <= ranked.order.size(); ++k) {
        bool last = k == ranked.order.size();
        if (last || !tie_blocks || scores[ranked.order[k]] != scores[ranked.order[k - 1]])
            ranked.block_ends.push_back(k);
    }
    return ranked;
}

// Cumulative incremental cost and value after each block, from (0, 0).
std::vector<CurvePoint> block_curve(const Dataset& data, const RankedRows& ranked) {
    std::vector<CurvePoint> curve(1);
    double treated_cost = 0, treated_value = 0, control_cost = 0, control_value = 0;
    size_t start = 0;
    for (size_t end : ranked.block_ends) {
        for (size_t k = start; k < end; ++k) {
            int64_t row = ranked.order[k];
            bool treated = data.arm[row] != 0;
            (treated ? treated_cost : control_cost) += data.cost[row];
            (treated ? treated_value : control_value) += data.value[row];
        }
        curve.push_back({treated_cost / ranked.treated - control_cost / ranked.control,
                         treated_value / ranked.treated - control_value / ranked.control});
        start = end;
    }
    return curve;
}

// Value of the longest prefix whose cost stays <= x at Q + 1 equal cost steps. The first
// block ending above x is non-decreasing in x, so one forward walk serves every step.
std::vector<CurvePoint> sample_equal_cost_steps(const std::vector<CurvePoint>& curve, int q) {
    std::vector<CurvePoint> samples(q + 1);
    double total_cost = curve.back().cost;
    size_t b = 0;
    for (int j = 0; j <= q; ++j) {
        double x = total_cost * (double(j) / q);
        while (b + 1 < curve.size() && curve[b + 1].cost <= x) ++b;
        double value = curve[b].value;
        if (b + 1 < curve.size()) {
            double fraction = (x - curve[b].cost) / (curve[b + 1].cost - curve[b].cost);
            value += fraction * (curve[b + 1].value - curve[b].value);
        }
        samples[j] = {x, value};
    }
    return samples;
}

double outcome_of(const Dataset& data, int64_t row, QiniOutcome outcome) {
    return outcome == QiniOutcome::kValue ? data.value[row] : data.cost[row];
}

// Q(k) at every k, exact at block ends and linear inside blocks.
std::vector<double> qini_points(const Dataset& data, const RankedRows& ranked,
                                QiniOutcome outcome) {
    std::vector<double> points(ranked.order.size() + 1, 0.0);
    double sum_treated = 0, sum_control = 0;
    int64_t n_treated = 0, n_control = 0;
    size_t start = 0;
    for (size_t end : ranked.block_ends) {
        for (size_t k = start; k < end; ++k) {
            int64_t row = ranked.order[k];
            bool treated = data.arm[row] != 0;
            (treated ? sum_treated : sum_control) += outcome_of(data, row, outcome);
            (treated ? n_treated : n_control) += 1;
        }
        double control_term = n_control > 0 ? sum_control * n_treated / double(n_control) : 0.0;
        points[end] = sum_treated - control_term;
        for (size_t k = start + 1; k < end; ++k)
            points[k] = points[start] +
                        (points[end] - points[start]) * double(k - start) / double(end - start);
        start = end;
    }
    return points;
}

double trapezoid_area(const std::vector<double>& points) {
    double area = 0.0;
    size_t n = points.size() - 1;
    for (size_t k = 0; k < n; ++k) area += 0.5 * (points[k] + points[k + 1]);
    return area / double(n);
}

bool outcome_is_binary(const Dataset& data, const RankedRows& ranked, QiniOutcome outcome) {
    for (int64_t row : ranked.order) {
        double y = outcome_of(data, row, outcome);
        if (y != 0.0 && y != 1.0) return false;
    }
    return true;
}

// The best possible ranking of 0/1 outcomes: treated responders first, control responders
// last. Rows inside each group are interchangeable, so the curve is taken row by row.
double perfect_qini_area(const Dataset& data, int treated_arm, QiniOutcome outcome) {
    std::vector<double> perfect(data.n, 1.0);
    for (int64_t i = 0; i < data.n; ++i) {
        if (outcome_of(data, i, outcome) != 1.0) continue;
        perfect[i] = data.arm[i] == treated_arm ? 2.0 : 0.0;
    }
    RankedRows ranked = rank_rows(data, perfect, treated_arm, false);
    return trapezoid_area(qini_points(data, ranked, outcome));
}

}  // namespace

std::vector<CurvePoint> cumulative_cost_curve(const Dataset& data,
                                              const std::vector<double>& scores, int treated_arm) {
    return block_curve(data, rank_rows(data, scores, treated_arm, true));
}

AuccResult aucc(const Dataset& data, const std::vector<double>& scores, const AuccParams& params) {
    if (params.points < 1)
        CA_THROW(InputError, "AUCC needs at least 1 cost step, got points = " << params.points);
    RankedRows ranked = rank_rows(data, scores, params.treated_arm, true);
    std::vector<CurvePoint> curve = block_curve(data, ranked);
    AuccResult out;
    out.treated_rows = ranked.treated;
    out.control_rows = ranked.control;
    out.total_cost = curve.back().cost;
    out.total_value = curve.back().value;
    if (!(out.total_cost > 0) || !(out.total_value > 0))
        CA_THROW(InputError, data.source << ": AUCC is undefined here: the whole-set "
                                            "incremental cost is "
                                         << out.total_cost << " and value " << out.total_value
                                         << "; both must be > 0 (treated minus control means)");
    out.curve = sample_equal_cost_steps(curve, params.points);
    double sum = 0.0;
    for (const CurvePoint& point : out.curve) sum += point.value / out.total_value;
    out.aucc = sum / double(out.curve.size());
    return out;
}

QiniResult qini(const Dataset& data, const std::vector<double>& scores, const QiniParams& params) {
    RankedRows ranked = rank_rows(data, scores, params.treated_arm, true);
    QiniResult out;
    out.points = qini_points(data, ranked, params.outcome);
    out.area = trapezoid_area(out.points);
    out.random_area = 0.5 * out.points.back();
    out.coefficient = out.area - out.random_area;
    if (!outcome_is_binary(data, ranked, params.outcome)) {
        log_warning(data.source +
                    ": Qini outcome is not 0/1, so the perfect-normalised Qini "
                    "is not defined; report the area and coefficient instead");
        return out;
    }
    double perfect_gain =
        perfect_qini_area(data, params.treated_arm, params.outcome) - out.random_area;
    if (!(perfect_gain > 0)) {
        log_warning(data.source +
                    ": the perfect Qini curve does not rise above random, so "
                    "the normalised Qini is not defined");
        return out;
    }
    out.normalized_available = true;
    out.normalized = out.coefficient / perfect_gain;
    return out;
}

}  // namespace ca
