// The stored file's column model, shared by the HDF5 writer and reader: which datasets a
// layout has, their element types and shapes, and row selection. Storage code only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/hdf5_io.h"
#include "core/hdf5_store.h"

namespace ca::hdf5 {

constexpr const char* kFormatName = "clusteralloc-dataset";
/// Bumped when a reader of the old format would misread a new file.
constexpr int64_t kFormatVersion = 1;
/// Default chunk size: big enough for fast sequential I/O, small enough for cheap slices.
constexpr int64_t kTargetChunkBytes = int64_t(1) << 20;

enum class ColumnKind {
    kX,
    kArm,
    kValue,
    kCost,
    kAux,
    kPropensity,
    kTrueValue,
    kTrueCost,
    kUserId,
    kSourceLine
};

/// One stored column: an N-vector, or an N x width matrix (x and the truth).
struct Column {
    ColumnKind kind = ColumnKind::kX;
    std::string name;  ///< dataset name in the file
    int64_t width = 1;
    bool matrix = false;
    int aux = -1;  ///< index among the auxiliary outcomes
};

/// The layout's columns, in the order they are written and read.
std::vector<Column> columns_of(const Hdf5Layout& layout);

/// Calls visit with the vector behind a column of data (const or not).
template <typename DatasetRef, typename Visit>
void visit_column(DatasetRef& data, const Column& column, Visit&& visit) {
    switch (column.kind) {
        case ColumnKind::kX:
            return visit(data.x);
        case ColumnKind::kArm:
            return visit(data.arm);
        case ColumnKind::kValue:
            return visit(data.value);
        case ColumnKind::kCost:
            return visit(data.cost);
        case ColumnKind::kAux:
            return visit(data.aux[size_t(column.aux)]);
        case ColumnKind::kPropensity:
            return visit(data.propensity);
        case ColumnKind::kTrueValue:
            return visit(data.true_value);
        case ColumnKind::kTrueCost:
            return visit(data.true_cost);
        case ColumnKind::kUserId:
            return visit(data.user_id);
        case ColumnKind::kSourceLine:
            return visit(data.source_line);
    }
}

/// HDF5 types of a column's elements: as stored (little endian) and as held in memory.
struct ElementType {
    hid_t stored;
    hid_t memory;
    H5T_class_t type_class;
    int64_t bytes;
};
ElementType element_type(ColumnKind kind);

/// Access properties with a chunk cache that holds a few chunks of chunk_bytes.
Handle dataset_access(int64_t chunk_bytes, const std::string& path);

/// Selects rows [first, first + count) of a column in its file dataspace; returns the
/// matching memory dataspace.
Handle select_rows(hid_t file_space, const Column& column, int64_t first, int64_t count,
                   const std::string& path);

/// Fletcher-style running sums over a column's 32-bit words in stored order (every element
/// type is a multiple of 4 bytes). Whole-file reads compare them with the sums written at
/// finish(): HDF5's chunk checksums do not cover all of the chunk index, and a damaged index
/// can make a column read back as zeros without an error.
struct ColumnChecksum {
    uint64_t low = 0;
    uint64_t high = 0;
    void add(const void* data, size_t bytes);
    /// "low:high" in hex, as stored in the column's "checksum" attribute.
    std::string text() const;
};

/// "rows [first, first + count)" for messages.
std::string rows_text(int64_t first, int64_t count);

}  // namespace ca::hdf5
