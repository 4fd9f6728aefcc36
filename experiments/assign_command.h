// `clusteralloc assign`: streams users from a CSV through a policy file (encoder, student,
// cluster -> arm table at the requested budget) into user_id,cluster,treatment rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/policy_serving.h"
#include "kernels/backend.h"

namespace ca {

struct AssignOptions {
    std::string policy_path;  ///< policy.json written by `clusteralloc run`
    std::string input_path;   ///< users CSV (plain or gzip) with the policy's input columns
    std::string output_path;  ///< assignments CSV, written to a temporary name and renamed
    double budget = 0.0;      ///< expected cost per user (per capita), >= 0
    BudgetMode mode = BudgetMode::kLower;  ///< between grid points: lower point or interpolate
    /// Column holding integer user ids; empty takes the policy's id column, or, when the policy
    /// has none, the 0-based data row index.
    std::string id_column;
    int64_t block_rows = 4096;  ///< rows encoded and classified together
};

struct AssignSummary {
    int64_t rows = 0;                    ///< users assigned
    std::vector<int64_t> arm_rows;       ///< users per arm (M entries)
    std::vector<std::string> arm_names;  ///< the policy's M arm names
    BudgetLookup lookup;                 ///< the allocation served
};

/// Reads the policy, serves every row of the input and writes the output. Bad input throws
/// InputError "users.csv:line:column: ..."; nothing is left at output_path then.
AssignSummary assign_users(const AssignOptions& options, Backend& backend);

int assign_command(int argc, char** argv);

}  // namespace ca
