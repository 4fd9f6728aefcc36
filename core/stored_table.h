// The "hdf5" data source: its config keys, and the mapping between a loaded raw table and a
// stored file in both directions (convert writes it, the DataSource reads it back), so a
// converted CSV is encoded, split and scored exactly as the CSV itself would be.
#pragma once

#include <cstdint>
#include <string>

#include "core/communicator.h"
#include "core/config.h"
#include "core/dataset.h"
#include "core/hdf5_store.h"
#include "core/schema.h"
#include "core/table_loader.h"

namespace ca {

/// True when the "data" object says "source": "hdf5".
bool is_hdf5_source(const ConfigNode& data);

/// Reads {"source": "hdf5", "path": FILE, "split": {...}, "max_rows": N}; path_override, when
/// not empty, replaces path. Unknown keys, a missing path and bad split shares are ConfigErrors
/// naming the key. The schema has no kind of its own for stored files: source stays kCsv and
/// only path, max_rows, split and origin are set (the file carries everything else).
DataSchema parse_hdf5_schema(const ConfigNode& data, const std::string& path_override = "");

/// A stored file as the DataSource holds a table.
struct StoredTable {
    /// Features as raw columns (numbers, or category codes with their levels) and the per-row
    /// columns, as the CSV loader would have produced them.
    RawTable table;
    /// Every per-row column of the file (truth included) except x, which lives in table.
    Dataset rows;
    /// The missing-value policy the file was written under (the encoder imputes or not).
    MissingPolicy missing = MissingPolicy::kError;
};

/// The first max_rows rows of a stored file (all when max_rows is 0). InputError, naming the
/// file, for an unreadable or corrupt file, one without rows, or bad values. With several
/// ranks each reads and checks its own block of rows (an HDF5 hyperslab per column) and the
/// blocks are joined, so every rank holds the same table as one process would.
StoredTable load_stored_table(const std::string& path, int64_t max_rows = 0,
                              Communicator& comm = local_communicator());

/// The layout that stores a loaded table: its features raw (category codes as floats, levels
/// as attributes), its optional columns, the missing policy; provenance left empty.
Hdf5Layout stored_layout(const RawTable& table, MissingPolicy missing);

/// Rows [first, first + count) of a loaded table as the Dataset the writer appends.
Dataset stored_rows(const RawTable& table, int64_t first, int64_t count);

}  // namespace ca
