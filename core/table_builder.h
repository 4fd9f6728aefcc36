// Builds a RawTable from CSV records: resolves the header, parses and checks each cell, and
// runs the whole-table checks at the end. The loaders in table_loader.cpp (whole file) and
// sliced_table_loader.cpp (ranks reading byte slices) share it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/csv_reader.h"
#include "core/schema.h"
#include "core/table_loader.h"

namespace ca {

/// Shown at most in a missing-cell error / a bad-propensity error.
constexpr size_t kMissingExamplesShown = 5;
constexpr size_t kBadPropensitiesShown = 20;

// Problems counted while reading rows and reported by the whole-table checks, with the first
// few examples in file order.
struct RowFindings {
    int64_t missing_cells = 0;
    std::vector<std::string> missing_examples;  ///< "line:column (name \"cell\")"
    int64_t bad_propensity_count = 0;
    int64_t first_bad_propensity_line = 0;
    std::vector<std::string> bad_propensities;  ///< "line (cell)"
};

// Field positions (0-based) of the configured columns in the header; -1 when not used.
struct ColumnSlots {
    int treatment = -1;
    int value = -1;
    int cost = -1;
    int propensity = -1;
    int id = -1;
    std::vector<int> aux;
    std::vector<int> features;
};

class TableBuilder {
  public:
    explicit TableBuilder(const DataSchema& schema) : schema_(schema) {
        table_.path = schema.path;
        table_.arm_names = schema.arm_labels;
    }

    /// The first record is the header; each later one a row. Returns false once the
    /// schema's max_rows rows are in.
    bool add(const CsvRecord& record);
    /// Runs the whole-table checks (rows, missing cells, propensities, arms), sets the binary
    /// flags and hands the table over.
    RawTable finish();

    /// The rows so far and what the whole-table checks will look at: ranks that read slices
    /// of a file join these before one finish().
    RawTable& table() { return table_; }
    RowFindings& findings() { return findings_; }
    /// The file has no id column: user ids are row indices.
    bool ids_are_row_indices() const { return slots_.id < 0; }

  private:
    void read_header(const CsvRecord& record);
    int find_column(const ColumnRef& column, bool required);
    void add_row(const CsvRecord& record);
    int32_t read_arm(const CsvRecord& record);
    double read_outcome(const CsvRecord& record, int slot);
    void read_feature(const CsvRecord& record, size_t index);
    void read_propensity(const CsvRecord& record, int32_t arm);
    int64_t read_id(const CsvRecord& record);
    void note_missing(const CsvRecord& record, int slot);
    void check_missing_cells() const;
    void check_propensities() const;
    void check_arms() const;
    [[noreturn]] void fail_cell(const CsvRecord& record, int slot,
                                const std::string& message) const;

    const DataSchema& schema_;
    RawTable table_;
    RowFindings findings_;
    std::vector<std::string> header_;
    int64_t header_line_ = 0;
    ColumnSlots slots_;
    std::vector<std::unordered_map<std::string, int32_t>> level_index_;
    std::string key_;  ///< reused lookup key, so categorical cells do not allocate
};

}  // namespace ca
