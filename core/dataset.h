// The in-memory RCT table every stage works on: encoded features, the logged arm, observed
// value and cost, optional auxiliary outcomes and, for synthetic data, the true responses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ca {

// Shapes: N = rows, D = encoded feature width, M = arms (arm 0 = control, cost 0).
struct Dataset {
    std::string source;                  ///< file path, or "synthetic(seed=...)"
    int64_t n = 0;                       ///< N
    int d = 0;                           ///< D
    int m = 0;                           ///< M
    std::vector<std::string> feature_names;  ///< D encoded names ("zip_code=Urban")
    std::vector<std::string> arm_names;      ///< M labels, index = arm
    std::vector<float> x;                    ///< N x D, row-major, standardised
    std::vector<int32_t> arm;                ///< N logged arms in [0, M)
    std::vector<float> value;                ///< N observed values
    std::vector<float> cost;                 ///< N observed costs (>= 0)
    std::vector<std::string> aux_names;      ///< auxiliary outcome names
    std::vector<std::vector<float>> aux;     ///< one N-vector per auxiliary outcome
    bool value_is_binary = false;            ///< every value is 0 or 1 (BCE, AUCC)
    bool cost_is_binary = false;
    /// Probability of the logged arm for each row, when the data gives it (else empty: use
    /// the arm shares). Always inside (0, 1].
    std::vector<double> propensity;
    /// N x M true expected value / cost under each arm; synthetic data only, else empty.
    std::vector<float> true_value;
    std::vector<float> true_cost;
    /// N user ids (hashing for split clusters); the row index when the data has none.
    std::vector<int64_t> user_id;
    /// N source line numbers (1-based, header = 1), for messages; empty for generated data.
    std::vector<int64_t> source_line;

    bool has_truth() const { return !true_value.empty(); }
    const float* row(int64_t i) const { return x.data() + i * d; }
    /// The rows listed, in that order, with every per-row column carried along.
    Dataset subset(const std::vector<int64_t>& rows) const;
    /// Share of rows in each arm (M entries).
    std::vector<double> arm_shares() const;
    /// Rows per arm (M entries).
    std::vector<int64_t> arm_counts() const;
};

}  // namespace ca
