// Column list, element types, chunk cache and row selection of the stored HDF5 file.
#include "core/hdf5_columns.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace ca::hdf5 {

std::vector<Column> columns_of(const Hdf5Layout& layout) {
    const Dataset& header = layout.header;
    std::vector<Column> columns = {{ColumnKind::kX, "x", header.d, true},
                                   {ColumnKind::kArm, "arm"},
                                   {ColumnKind::kValue, "value"},
                                   {ColumnKind::kCost, "cost"}};
    for (size_t a = 0; a < header.aux_names.size(); ++a)
        columns.push_back({ColumnKind::kAux, "aux_" + std::to_string(a), 1, false, int(a)});
    if (layout.has_propensity) columns.push_back({ColumnKind::kPropensity, "propensity"});
    if (layout.has_truth) {
        columns.push_back({ColumnKind::kTrueValue, "true_value", header.m, true});
        columns.push_back({ColumnKind::kTrueCost, "true_cost", header.m, true});
    }
    if (layout.has_user_id) columns.push_back({ColumnKind::kUserId, "user_id"});
    if (layout.has_source_line) columns.push_back({ColumnKind::kSourceLine, "source_line"});
    return columns;
}

ElementType element_type(ColumnKind kind) {
    switch (kind) {
        case ColumnKind::kArm:
            return {H5T_STD_I32LE, H5T_NATIVE_INT32, H5T_INTEGER, 4};
        case ColumnKind::kPropensity:
            return {H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, H5T_FLOAT, 8};
        case ColumnKind::kUserId:
        case ColumnKind::kSourceLine:
            return {H5T_STD_I64LE, H5T_NATIVE_INT64, H5T_INTEGER, 8};
        default:
            return {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, H5T_FLOAT, 4};
    }
}

// Rows appended in pieces fill a chunk in the cache before it is checksummed and written once.
Handle dataset_access(int64_t chunk_bytes, const std::string& path) {
    Handle access = checked(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, path, "property list");
    size_t cache_bytes = size_t(std::max(4 * chunk_bytes, kTargetChunkBytes));
    check(H5Pset_chunk_cache(access.get(), 10007, cache_bytes, 1.0), path, "chunk cache");
    return access;
}

Handle select_rows(hid_t file_space, const Column& column, int64_t first, int64_t count,
                   const std::string& path) {
    const int rank = column.matrix ? 2 : 1;
    hsize_t start[2] = {hsize_t(first), 0};
    hsize_t extent[2] = {hsize_t(count), hsize_t(column.width)};
    check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, extent, nullptr), path,
          "cannot select rows of column '" + column.name + "'");
    return checked(H5Screate_simple(rank, extent, nullptr), H5Sclose, path,
                   "cannot make a dataspace");
}

void ColumnChecksum::add(const void* data, size_t bytes) {
    const auto* bytes_in = static_cast<const unsigned char*>(data);
    uint64_t low_sum = low, high_sum = high;
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
        uint32_t word;
        std::memcpy(&word, bytes_in + i, sizeof(word));
        low_sum += word;
        high_sum += low_sum;
    }
    low = low_sum;
    high = high_sum;
}

std::string ColumnChecksum::text() const {
    char buffer[40];
    std::snprintf(buffer, sizeof(buffer), "%016llx:%016llx", static_cast<unsigned long long>(low),
                  static_cast<unsigned long long>(high));
    return buffer;
}

std::string rows_text(int64_t first, int64_t count) {
    std::ostringstream out;
    out << "rows [" << first << ", " << first + count << ")";
    return out.str();
}

}  // namespace ca::hdf5
