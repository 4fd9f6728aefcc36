// Reads a CSV file through a DataSchema into raw typed columns (features not yet encoded),
// checking every cell; each bad cell is an InputError naming file:line:column and the column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/communicator.h"
#include "core/schema.h"

namespace ca {

// One configured feature column as read, before encoding.
struct RawFeature {
    FeatureSpec spec;
    /// Numeric and binary columns: N values, NaN where the cell was missing (impute_mean only).
    std::vector<float> numbers;
    /// Categorical columns: N indices into levels, -1 where the cell was missing.
    std::vector<int32_t> codes;
    /// Categorical columns: the distinct labels, in order of first appearance in the file.
    std::vector<std::string> levels;
    int64_t missing = 0;  ///< cells that were missing (NaN, inf, empty, NA)

    const std::string& name() const { return spec.column.name; }
    bool categorical() const { return spec.type == FeatureType::kCategorical; }
};

// The loaded table: N rows (file order), M arms.
struct RawTable {
    std::string path;                     ///< file the rows came from
    int64_t n = 0;                        ///< N
    std::vector<std::string> arm_names;   ///< M labels, index = arm
    std::vector<RawFeature> features;     ///< in the order the schema lists them
    std::vector<int32_t> arm;             ///< N logged arms in [0, M)
    std::vector<float> value;             ///< N observed values
    std::vector<float> cost;              ///< N observed costs (>= 0)
    std::vector<std::string> aux_names;   ///< auxiliary outcomes found in the file
    std::vector<std::vector<float>> aux;  ///< one N-vector per auxiliary outcome
    /// N probabilities of the logged arm (after clipping), or empty when the schema has no
    /// propensity column.
    std::vector<double> propensity;
    int64_t propensity_clipped = 0;    ///< rows whose propensity was clipped
    std::vector<int64_t> user_id;      ///< N ids from the id column, or the row index
    std::vector<int64_t> source_line;  ///< N 1-based file lines (the header is line 1)
    bool value_is_binary = false;      ///< every value is 0 or 1
    bool cost_is_binary = false;       ///< every cost is 0 or 1
    bool truncated = false;            ///< reading stopped at the schema's max_rows

    std::vector<int64_t> arm_counts() const;
};

// Loads schema.path. Refuses, each with an InputError naming the file, line and column:
// an empty or header-only file, a configured column missing from the header, ragged rows,
// unparsable numbers, missing or non-finite cells (features: unless missing = impute_mean;
// outcomes: always), unknown treatment labels, negative costs, binary columns holding other
// than 0/1, propensities outside (0, 1) unless clipping is configured, and a configured arm
// without rows.
RawTable load_table(const DataSchema& schema);

// The same table on every rank of comm, read side by side: each rank parses one byte slice of
// the file (cut on line feeds) and the ranks join their rows in file order, so the table,
// every message and every error equal those of load_table. A gzip file, a max_rows limit, or
// a cut that fell inside a quoted field holding a line break make every rank read the whole
// file instead. Every rank must call it. read_in_slices, when given, says which way it went.
RawTable load_table(const DataSchema& schema, Communicator& comm, bool* read_in_slices = nullptr);

// How a cell parsed: a number, a missing or non-finite cell, or text that is no number.
enum class Cell { kOk, kMissing, kUnparsable };

// Empty, NA, N/A, null and NaN in any case (surrounding blanks ignored): what exporters write
// for "no value".
bool is_missing_token(std::string_view text);

// Parses a decimal number (blanks around it and a leading + allowed). Missing tokens, inf and
// values beyond float range give kMissing: no model can use them.
Cell parse_number(std::string_view text, double& out);

// Splits a path into the file name, for short messages ("hillstrom.csv").
std::string file_name_of(const std::string& path);

}  // namespace ca
