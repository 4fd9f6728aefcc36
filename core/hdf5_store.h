// Columnar HDF5 storage of a Dataset for tables too large for CSV: one chunked dataset per
// column (x, arm, value, cost, aux, propensity, truth, ids, source lines) and the names as
// attributes, written in row chunks and read back by row slices [first, first + count).
// The serial HDF5 library is not thread-safe: readers take one process-wide lock around their
// HDF5 calls (ranks run as threads in tests); call writers from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/schema.h"

namespace ca {

/// How one stored feature column reads. Numeric and binary columns hold their values;
/// a categorical column holds each row's index into levels as a float (exact below 2^24),
/// so a converted CSV keeps its raw table and is encoded exactly as the CSV would be.
/// A missing cell is NaN, allowed only when the file's missing policy imputes.
struct StoredFeature {
    std::string name;                          ///< column name
    FeatureType type = FeatureType::kNumeric;  ///< numeric, binary or categorical
    CategoricalEncoding encoding = CategoricalEncoding::kOneHot;  ///< categorical columns only
    std::vector<std::string> levels;                              ///< categorical: index -> label
};

/// What a stored file holds apart from its rows.
struct Hdf5Layout {
    /// Names, flags and source of the rows: source, d, m, feature_names, arm_names, aux_names,
    /// value_is_binary, cost_is_binary (n and the columns stay empty).
    Dataset header;
    /// D entries, one per column of x.
    std::vector<StoredFeature> features;
    bool has_propensity = false;   ///< an N-vector of float64
    bool has_truth = false;        ///< true_value and true_cost, N x M float32
    bool has_user_id = false;      ///< an N-vector of int64
    bool has_source_line = false;  ///< an N-vector of int64
    /// Whether NaN cells in x are legal (kImputeMean) or a corrupt file (kError).
    MissingPolicy missing = MissingPolicy::kError;
    /// Free text recorded with the file (the command and settings that made it), JSON.
    std::string provenance;

    /// The layout of data's rows: its header, which optional columns it fills, and numeric
    /// features named after its feature_names.
    static Hdf5Layout of(const Dataset& data);
};

struct Hdf5WriteOptions {
    /// Rows per HDF5 chunk (the unit of I/O and of a checksum); 0 picks about 1 MiB per chunk.
    int64_t chunk_rows = 0;
    /// Deflate level 0-9 with byte shuffling; 0 stores the bytes as they are (fastest).
    int deflate_level = 0;
    /// Rows the file will hold, when known (0: unknown). A chunk is stored whole, so a small
    /// file gets chunks no longer than itself.
    int64_t expected_rows = 0;
};

/// Writes a file by appending row chunks. Rows go to "<path>.tmp-<pid>", renamed onto path
/// by finish(); a writer destroyed before finish() removes its temporary file, so a failed
/// run never leaves a file that looks complete. InputError names the path when the file
/// cannot be created or written.
class Hdf5Writer {
  public:
    Hdf5Writer(std::string path, Hdf5Layout layout, Hdf5WriteOptions options = {});
    ~Hdf5Writer();
    Hdf5Writer(const Hdf5Writer&) = delete;
    Hdf5Writer& operator=(const Hdf5Writer&) = delete;

    /// Appends every row of rows, whose shape and optional columns must match the layout.
    void append(const Dataset& rows);
    /// Rows appended so far.
    int64_t rows() const;
    /// Records the row count, closes the file and renames it onto its final path.
    void finish();

  private:
    struct File;
    std::unique_ptr<File> file_;
};

/// Reads a stored file: the layout at once, rows on demand. Opening checks the format
/// attribute, the version and that every column has the same row count; reading checks the
/// values (arms in [0, M), finite outcomes, costs >= 0, propensities in (0, 1], features and
/// category indices as the layout allows). Every problem, a truncated or corrupt file included,
/// is an InputError naming the file (and the column and row where there is one).
class Hdf5Reader {
  public:
    explicit Hdf5Reader(std::string path);
    ~Hdf5Reader();
    Hdf5Reader(const Hdf5Reader&) = delete;
    Hdf5Reader& operator=(const Hdf5Reader&) = delete;

    const std::string& path() const;
    const Hdf5Layout& layout() const;
    /// N, the rows in the file.
    int64_t rows() const;
    /// Rows [first, first + count) as a Dataset with the file's header; InputError when the
    /// range leaves [0, rows()).
    Dataset read_rows(int64_t first, int64_t count) const;
    /// Checks every column of rows, which holds all the file's rows (joined from slices read
    /// on their own, which a slice's read cannot check), against the column checksums written
    /// with the file; InputError naming the column on a mismatch.
    void verify_checksums(const Dataset& rows) const;

  private:
    struct File;
    std::unique_ptr<File> file_;
};

/// The whole Dataset into one file (numeric features), written atomically.
void write_hdf5(const std::string& path, const Dataset& data, Hdf5WriteOptions options = {});
/// Every row of a stored file.
Dataset read_hdf5(const std::string& path);

}  // namespace ca
