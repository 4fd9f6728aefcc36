// Ranking AUCC on the CPU through core/aucc (and CpuBackend::ranking_aucc), plus the input
// checks both backends share.
#pragma once

#include <cstdint>

#include "kernels/backend.h"

namespace ca {

/// Rows of control (arm 0) and of the treated arm.
struct AuccRowCounts {
    int64_t treated = 0;
    int64_t control = 0;
};

/// Counts the compared rows; InputError when points < 1, treated_arm < 1, a compared row's
/// score is not finite ("aucc input: row 7 (0-based): score is nan; ...") or either arm has
/// no rows.
AuccRowCounts check_ranking_input(const double* score, const int32_t* arm, int64_t n,
                                  int treated_arm, int points);

/// InputError unless both whole-set totals are > 0 (AUCC is undefined otherwise).
void check_aucc_totals(double total_cost, double total_value);

/// The reference: copies the rows into a Dataset and calls core/aucc.
RankingAucc cpu_ranking_aucc(const double* score, const int32_t* arm, const float* value,
                             const float* cost, int64_t n, int treated_arm, int points,
                             double* curve_value);

}  // namespace ca
