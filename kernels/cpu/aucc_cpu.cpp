// Ranking AUCC on the CPU: the rows become a Dataset for core/aucc, which stays the one
// definition of the metric; the checks here give both backends the same messages.
#include "kernels/cpu/aucc_cpu.h"

#include <algorithm>
#include <cmath>

#include "core/aucc.h"
#include "core/dataset.h"
#include "core/errors.h"
#include "kernels/cpu/cpu_backend.h"

namespace ca {

namespace {
constexpr const char* kSource = "aucc input";
}  // namespace

AuccRowCounts check_ranking_input(const double* score, const int32_t* arm, int64_t n,
                                  int treated_arm, int points) {
    if (points < 1)
        CA_THROW(InputError,
                 kSource << ": AUCC needs at least 1 cost step, got points = " << points);
    if (treated_arm < 1)
        CA_THROW(InputError, kSource << ": treated arm " << treated_arm
                                     << " is not a treatment arm; expected >= 1");
    AuccRowCounts counts;
    for (int64_t i = 0; i < n; ++i) {
        if (arm[i] != 0 && arm[i] != treated_arm) continue;
        if (!std::isfinite(score[i]))
            CA_THROW(InputError, kSource << ": row " << i << " (0-based): score is " << score[i]
                                         << "; expected a finite number");
        (arm[i] == 0 ? counts.control : counts.treated) += 1;
    }
    if (counts.treated == 0 || counts.control == 0)
        CA_THROW(InputError, kSource << ": comparing arm " << treated_arm
                                     << " with control needs rows of both, got " << counts.treated
                                     << " treated and " << counts.control << " control rows");
    return counts;
}

void check_aucc_totals(double total_cost, double total_value) {
    if (!(total_cost > 0) || !(total_value > 0))
        CA_THROW(InputError, kSource << ": AUCC is undefined here: the whole-set incremental "
                                        "cost is "
                                     << total_cost << " and value " << total_value
                                     << "; both must be > 0 (treated minus control means)");
}

RankingAucc cpu_ranking_aucc(const double* score, const int32_t* arm, const float* value,
                             const float* cost, int64_t n, int treated_arm, int points,
                             double* curve_value) {
    check_ranking_input(score, arm, n, treated_arm, points);
    Dataset data;
    data.source = kSource;
    data.n = n;
    data.arm.assign(arm, arm + n);
    data.value.assign(value, value + n);
    data.cost.assign(cost, cost + n);
    const int32_t largest_arm = n > 0 ? *std::max_element(arm, arm + n) : 0;
    data.m = std::max(treated_arm, int(largest_arm)) + 1;

    AuccParams params;
    params.points = points;
    params.treated_arm = treated_arm;
    const AuccResult result = aucc(data, std::vector<double>(score, score + n), params);
    if (curve_value)
        for (size_t j = 0; j < result.curve.size(); ++j) curve_value[j] = result.curve[j].value;
    return {result.aucc, result.total_cost, result.total_value, result.treated_rows,
            result.control_rows};
}

RankingAucc CpuBackend::ranking_aucc(const double* score, const int32_t* arm, const float* value,
                                     const float* cost, int64_t n, int treated_arm, int points,
                                     double* curve_value) {
    return cpu_ranking_aucc(score, arm, value, cost, n, treated_arm, points, curve_value);
}

}  // namespace ca
