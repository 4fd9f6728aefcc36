// The serving policy file: everything `clusteralloc assign` needs to go from a raw user row to
// a treatment (encoder, student, cluster -> arm table per budget), as one JSON document sealed
// with a checksum, so a corrupt, truncated or hand-broken file is refused, never half-served.
//
// Format version 1: one JSON object whose top-level members sit one per line, in this order:
//   "format": "clusteralloc-policy", "format_version": 1,
//   "revision": git revision of the run, "config": the run's config with defaults written out,
//   "encoder": FeatureEncoder::to_json, "input_columns": raw columns in encoder order,
//   "id_column": the training data's id column ("" when the row index served as id),
//   "arms": M arm names (index = arm), "k": K, "deploy": "integer" | "lp_split",
//   "population": K users per cluster (n_k, the population the budgets were solved for),
//   "estimates": {"value": K x M, "cost": K x M} per-capita R_kj and C_kj, row-major,
//   "student": Mlp::to_json of the classifier x -> K logits,
//   "budgets": one entry per grid level, by increasing budget: {"fraction", "budget" (absolute,
//     units of sum_k n_k C_kj), "budget_per_capita" (budget / sum_k n_k), "arms": K arm names of
//     the integer allocation, "lp_arms": K arm names of the LP optimum's integral part,
//     "split": null or {"cluster", "arm_low", "arm_high" (arm names), "fraction" (share of the
//     cluster's users on arm_high)}},
//   "checksum": "fnv1a64:" + 16 hex digits of FNV-1a (64 bit) over the compact dump (sorted
//     keys) of the object without "checksum".
// Floats are written with the shortest decimal form that reads back to the same value, so a
// round trip is exact.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster_estimates.h"
#include "core/cluster_solver.h"
#include "core/feature_encoder.h"
#include "core/mckp_lp.h"
#include "core/mlp.h"

namespace ca {

/// Version written, and the only one read.
constexpr int kPolicyFormatVersion = 1;
/// The "format" member that marks a policy file.
constexpr const char* kPolicyFormatName = "clusteralloc-policy";

// The allocation at one budget of the grid.
struct PolicyBudget {
    double fraction = 0.0;              ///< share of the costliest policy's cost
    double budget = 0.0;                ///< absolute, in units of sum_k n_k C_kj
    double budget_per_capita = 0.0;     ///< budget / sum_k n_k
    std::vector<int> arms;              ///< K arms of the exact integer allocation
    std::vector<int> lp_arms;           ///< K arms of the LP optimum (split cluster on arm_low)
    std::optional<SplitCluster> split;  ///< the LP's one split cluster, if any

    bool operator==(const PolicyBudget& other) const;
};

struct ServingPolicy {
    std::string revision;                              ///< git revision of the run that wrote it
    nlohmann::json config = nlohmann::json::object();  ///< the run's config
    FeatureEncoder encoder;                            ///< fitted on the training rows
    std::string id_column;                             ///< "" when the row index was the user id
    std::vector<std::string> arm_names;                ///< M names, index = arm
    int k = 0;                                         ///< K clusters, the student's output width
    /// HRC's deployment at a grid point: "integer" serves `arms`, "lp_split" serves `lp_arms`
    /// with the split cluster divided by hashing user ids.
    std::string deploy = "integer";
    std::vector<double> population;     ///< K: n_k
    std::vector<double> value;          ///< K x M: R_kj, per capita
    std::vector<double> cost;           ///< K x M: C_kj, per capita
    Mlp student;                        ///< encoded features -> K logits
    std::vector<PolicyBudget> budgets;  ///< by increasing budget

    int m() const { return int(arm_names.size()); }
    /// Raw input columns a request must carry, in encoder order.
    std::vector<std::string> input_columns() const;
    /// sum_k n_k.
    double total_population() const;
};

/// The grid of a cluster table solved for serving: budgets at the grid's fractions of the
/// costliest policy, each with its integer allocation and its LP optimum.
std::vector<PolicyBudget> solve_policy_budgets(const ClusterTable& table,
                                               const ClusterSolverParams& solver);

/// The document without its checksum.
nlohmann::json policy_payload(const ServingPolicy& policy);
/// "fnv1a64:<16 hex>" of payload.dump() (payload must not hold "checksum").
std::string policy_checksum(const nlohmann::json& payload);
/// The sealed file text: payload plus checksum, one top-level member per line.
std::string policy_file_text(const ServingPolicy& policy);
/// Seals any payload the same way (tests use it to build consistent but wrong files).
std::string sealed_policy_text(const nlohmann::json& payload);

/// Writes the sealed text to a temporary name and renames it onto path.
void write_policy_file(const std::string& path, const ServingPolicy& policy);

/// Reads and verifies a policy file. Every refusal is an InputError starting with the path:
/// not JSON, truncated, not a policy file, another format version, checksum mismatch, or a
/// member of the wrong type or shape (weights vs layer widths, table vs K, unknown arm names).
ServingPolicy read_policy_file(const std::string& path);
/// The same from text in memory; origin stands in for the path.
ServingPolicy parse_policy_text(const std::string& text, const std::string& origin);

}  // namespace ca
