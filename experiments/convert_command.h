// `clusteralloc convert`: a CSV read through the config's data schema (every check of the
// loader) and stored as a chunked HDF5 file with its raw columns, for the "hdf5" data source.
#pragma once

#include <cstdint>
#include <string>

#include "core/hdf5_store.h"
#include "core/schema.h"
#include "core/table_loader.h"

namespace ca {

struct ConvertOptions {
    std::string output_path;       ///< the .h5 file, written to a temporary name and renamed
    int64_t chunk_rows = 1000000;  ///< rows copied and appended per step
    Hdf5WriteOptions storage;      ///< HDF5 chunking and compression
    std::string provenance;        ///< JSON text stored with the file
};

/// Stores a loaded table; the DataSource reads it back into the same table. Returns the
/// file's size in bytes.
int64_t store_table(const RawTable& table, MissingPolicy missing, const ConvertOptions& options);

int convert_command(int argc, char** argv);

}  // namespace ca
