// Per-cluster, per-arm value and cost estimates from the RCT rows (the table the cluster
// solver reads). A cell without RCT rows takes the arm's global mean and is marked as filled,
// so no NaN ever leaves this step.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/communicator.h"
#include "core/config.h"
#include "core/dataset.h"

namespace ca {

// K clusters x M arms; every K x M vector is row-major: index(k, j) = k * M + j.
struct ClusterTable {
    int k = 0;  ///< K
    int m = 0;  ///< M
    /// K: n_k, users of the population to allocate in cluster k.
    std::vector<double> population;
    /// K x M: n_kj, RCT rows of cluster k that received arm j.
    std::vector<int64_t> count;
    /// K x M: R_kj, value per capita (the estimate the solver uses, shrunk or bounded).
    std::vector<double> value;
    /// K x M: C_kj, cost per capita.
    std::vector<double> cost;
    /// K x M: standard errors of value and cost.
    std::vector<double> value_se;
    std::vector<double> cost_se;
    /// K x M: true where the cell had no RCT rows and took the arm's global mean.
    std::vector<bool> filled;

    size_t index(int cluster, int arm) const { return size_t(cluster) * size_t(m) + size_t(arm); }
    /// A table of zeros (no filled cells) with every vector sized for K x M.
    static ClusterTable zeros(int k, int m);
};

struct EstimateParams {
    /// "none": plain cell means; "empirical_bayes": shrink each cell toward the arm's global
    /// mean as if prior_rows rows at that mean were added to the cell.
    std::string shrinkage = "empirical_bayes";
    /// Prior strength of the empirical-Bayes shrinkage, in RCT rows.
    double prior_rows = 20.0;
    /// Lower confidence bound on value: R_kj - lcb_z * value_se; 0 leaves the value as is.
    double lcb_z = 0.0;

    /// Reads the "estimates" object; unknown keys and bad values are ConfigErrors.
    static EstimateParams from_config(const ConfigNode& node);
    nlohmann::json to_json() const;
};

/// Cells with fewer RCT rows than this get a warning (with their number).
constexpr int64_t kThinCellRows = 10;

/// The K x M table from the RCT rows and their cluster labels (rct.n labels in [0, K)).
/// population holds n_k for the K clusters. Standard errors: the cell's sample standard
/// deviation (the arm's global one when the cell has fewer than 2 rows) over sqrt(n_kj), with
/// n_kj + prior_rows in place of n_kj under shrinkage and 1 for an empty cell without it.
/// Throws InputError when an arm has no RCT rows at all, a label is out of range, or a value,
/// cost or population entry is not finite (or negative, for population). With several ranks
/// (each passing the same rows and labels) each rank sums its own block of rows, and the cell
/// counts, sums and squared deviations are summed over the ranks.
ClusterTable estimate_clusters(const Dataset& rct, const int32_t* labels, int k,
                               const std::vector<double>& population,
                               const EstimateParams& params = {},
                               Communicator& comm = local_communicator());

/// The table as CSV (cluster,arm,population,n,value,cost,value_se,cost_se,filled) for reports;
/// n = 0 rows stay visible so a reader sees which cells took the fallback.
std::string cluster_table_csv(const ClusterTable& table);

}  // namespace ca
