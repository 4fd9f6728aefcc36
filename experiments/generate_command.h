// `clusteralloc generate`: streams the synthetic generator into a chunked HDF5 file, one row
// chunk at a time, so 10^7-10^8 users fit in the memory of one chunk.
#pragma once

#include <cstdint>
#include <string>

#include "core/hdf5_store.h"
#include "core/synthetic_generator.h"

namespace ca {

struct GenerateOptions {
    std::string output_path;       ///< the .h5 file, written to a temporary name and renamed
    int64_t chunk_rows = 1000000;  ///< rows generated and appended per step (memory bound)
    Hdf5WriteOptions storage;      ///< HDF5 chunking and compression
    std::string provenance;        ///< JSON text stored with the file
};

struct GenerateSummary {
    int64_t rows = 0;      ///< users written
    int64_t bytes = 0;     ///< size of the finished file
    double seconds = 0.0;  ///< wall time, generation and writing
};

/// Generates params.rows users in chunks into options.output_path. The file's rows equal
/// generate_synthetic(params) whatever the chunk size.
GenerateSummary generate_to_hdf5(const SyntheticParams& params, const GenerateOptions& options);

int generate_command(int argc, char** argv);

}  // namespace ca
