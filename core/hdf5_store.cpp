// Writing the stored HDF5 file: the layout of a Dataset, the chunked appending writer and the
// whole-Dataset shortcut. Every column is chunked along rows with a Fletcher-32 checksum per
// chunk, plus a whole-column checksum for whole-file reads, so a damaged file fails its read
// with a message instead of handing back wrong numbers.
#include "core/hdf5_store.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/errors.h"
#include "core/hdf5_columns.h"

namespace ca {

using namespace hdf5;

namespace {
const char* missing_name(MissingPolicy missing) {
    return missing == MissingPolicy::kImputeMean ? "impute_mean" : "error";
}

int64_t chunk_rows_for(const Column& column, const Hdf5WriteOptions& options) {
    int64_t row_bytes = std::max<int64_t>(column.width, 1) * element_type(column.kind).bytes;
    int64_t rows = options.chunk_rows > 0
                       ? options.chunk_rows
                       : std::clamp<int64_t>(kTargetChunkBytes / row_bytes, 1024, int64_t(1) << 20);
    if (options.expected_rows > 0) rows = std::min(rows, options.expected_rows);
    return std::max<int64_t>(rows, 1);
}
}  // namespace

Hdf5Layout Hdf5Layout::of(const Dataset& data) {
    Hdf5Layout layout;
    Dataset& header = layout.header;
    header.source = data.source;
    header.d = data.d;
    header.m = data.m;
    header.arm_names = data.arm_names;
    header.aux_names = data.aux_names;
    header.value_is_binary = data.value_is_binary;
    header.cost_is_binary = data.cost_is_binary;
    for (int f = 0; f < data.d; ++f) {
        StoredFeature feature;
        bool named = f < int(data.feature_names.size());
        feature.name = named ? data.feature_names[size_t(f)] : "x" + std::to_string(f);
        header.feature_names.push_back(feature.name);
        layout.features.push_back(feature);
    }
    layout.has_propensity = !data.propensity.empty();
    layout.has_truth = data.has_truth();
    layout.has_user_id = !data.user_id.empty();
    layout.has_source_line = !data.source_line.empty();
    return layout;
}

struct Hdf5Writer::File {
    std::string path;
    std::string temporary_path;
    Hdf5Layout layout;
    Hdf5WriteOptions options;
    std::vector<Column> columns;
    Handle file;
    std::vector<Handle> datasets;           ///< one per column
    std::vector<ColumnChecksum> checksums;  ///< one per column
    int64_t rows = 0;
    bool finished = false;

    void write_attributes();
    void create_column(const Column& column);
    void write_column_rows(size_t index, const Dataset& rows_in, int64_t count);
    void check_shape(const Dataset& rows_in) const;
    void close_and_remove();
};

void Hdf5Writer::File::write_attributes() {
    const hid_t root = file.get();
    const Dataset& header = layout.header;
    hdf5::write_string_attribute(root, "format", kFormatName, path);
    hdf5::write_int_attribute(root, "format_version", kFormatVersion, path);
    hdf5::write_string_attribute(root, "source", header.source, path);
    hdf5::write_string_attribute(root, "provenance", layout.provenance, path);
    hdf5::write_strings_attribute(root, "arm_names", header.arm_names, path);
    hdf5::write_strings_attribute(root, "aux_names", header.aux_names, path);
    hdf5::write_int_attribute(root, "value_is_binary", header.value_is_binary, path);
    hdf5::write_int_attribute(root, "cost_is_binary", header.cost_is_binary, path);
    hdf5::write_string_attribute(root, "missing", missing_name(layout.missing), path);

    const hid_t x = datasets.front().get();
    std::vector<std::string> names, types, encodings;
    for (size_t f = 0; f < layout.features.size(); ++f) {
        const StoredFeature& feature = layout.features[f];
        names.push_back(feature.name);
        types.push_back(to_string(feature.type));
        encodings.push_back(to_string(feature.encoding));
        if (feature.type == FeatureType::kCategorical)
            hdf5::write_strings_attribute(x, "levels_" + std::to_string(f), feature.levels, path);
    }
    hdf5::write_strings_attribute(x, "feature_names", names, path);
    hdf5::write_strings_attribute(x, "feature_types", types, path);
    hdf5::write_strings_attribute(x, "feature_encodings", encodings, path);
}

void Hdf5Writer::File::create_column(const Column& column) {
    const int rank = column.matrix ? 2 : 1;
    const int64_t chunk = chunk_rows_for(column, options);
    const ElementType type = element_type(column.kind);
    const std::string what = "cannot create column '" + column.name + "'";
    hsize_t dims[2] = {0, hsize_t(column.width)};
    hsize_t max_dims[2] = {H5S_UNLIMITED, hsize_t(column.width)};
    hsize_t chunk_dims[2] = {hsize_t(chunk), hsize_t(column.width)};
    Handle space = checked(H5Screate_simple(rank, dims, max_dims), H5Sclose, path, what);
    Handle create = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, path, what);
    check(H5Pset_chunk(create.get(), rank, chunk_dims), path, what);
    if (options.deflate_level > 0) {
        check(H5Pset_shuffle(create.get()), path, what);
        check(H5Pset_deflate(create.get(), unsigned(options.deflate_level)), path, what);
    }
    check(H5Pset_fletcher32(create.get()), path, what);
    // No timestamps: the same rows give the same file.
    check(H5Pset_obj_track_times(create.get(), false), path, what);
    Handle access = dataset_access(chunk * column.width * type.bytes, path);
    datasets.push_back(checked(H5Dcreate2(file.get(), column.name.c_str(), type.stored, space.get(),
                                          H5P_DEFAULT, create.get(), access.get()),
                               H5Dclose, path, what));
}

void Hdf5Writer::File::check_shape(const Dataset& rows_in) const {
    const Dataset& header = layout.header;
    CA_ASSERT_MSG(rows_in.d == header.d && rows_in.m == header.m &&
                      rows_in.aux.size() == header.aux_names.size(),
                  "rows of shape D=" << rows_in.d << ", M=" << rows_in.m << ", "
                                     << rows_in.aux.size() << " aux for a file of D=" << header.d
                                     << ", M=" << header.m << ", " << header.aux_names.size());
    CA_ASSERT_MSG(rows_in.propensity.empty() != layout.has_propensity &&
                      rows_in.has_truth() == layout.has_truth &&
                      rows_in.user_id.empty() != layout.has_user_id &&
                      rows_in.source_line.empty() != layout.has_source_line,
                  "rows whose optional columns differ from the file's layout");
    for (const Column& column : columns) {
        visit_column(rows_in, column, [&](const auto& values) {
            CA_ASSERT_MSG(int64_t(values.size()) == rows_in.n * column.width,
                          "column " << column.name << " holds " << values.size() << " values for "
                                    << rows_in.n << " rows of width " << column.width);
        });
    }
}

void Hdf5Writer::File::write_column_rows(size_t index, const Dataset& rows_in, int64_t count) {
    const Column& column = columns[index];
    const hid_t dataset = datasets[index].get();
    const std::string what =
        "cannot write " + rows_text(rows, count) + " of column '" + column.name + "'";
    hsize_t dims[2] = {hsize_t(rows + count), hsize_t(column.width)};
    check(H5Dset_extent(dataset, dims), path, what);
    Handle file_space = checked(H5Dget_space(dataset), H5Sclose, path, what);
    Handle memory_space = select_rows(file_space.get(), column, rows, count, path);
    const hid_t memory_type = element_type(column.kind).memory;
    visit_column(rows_in, column, [&](const auto& values) {
        check(H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT,
                       values.data()),
              path, what);
        checksums[index].add(values.data(), values.size() * sizeof(values[0]));
    });
}

void Hdf5Writer::File::close_and_remove() {
    datasets.clear();
    file.reset();
    std::error_code ignored;
    std::filesystem::remove(temporary_path, ignored);
}

Hdf5Writer::Hdf5Writer(std::string path, Hdf5Layout layout, Hdf5WriteOptions options)
    : file_(std::make_unique<File>()) {
    hdf5::silence_library_errors();
    const Dataset& header = layout.header;
    CA_ASSERT_MSG(header.d >= 1 && int(layout.features.size()) == header.d,
                  layout.features.size() << " stored features for D = " << header.d);
    CA_ASSERT_MSG(header.m >= 1 && int(header.arm_names.size()) == header.m,
                  header.arm_names.size() << " arm names for M = " << header.m);
    CA_ASSERT_MSG(options.deflate_level >= 0 && options.deflate_level <= 9,
                  "deflate level " << options.deflate_level);
    File& file = *file_;
    file.path = std::move(path);
    file.temporary_path = file.path + ".tmp-" + std::to_string(getpid());
    file.layout = std::move(layout);
    file.options = options;
    file.columns = columns_of(file.layout);

    Handle access = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file.path, "property list");
    // The 1.8 object format keeps large attributes (many category levels) in dense storage.
    check(H5Pset_libver_bounds(access.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), file.path,
          "property list");
    file.file =
        checked(H5Fcreate(file.temporary_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()),
                H5Fclose, file.path, "cannot create " + file.temporary_path);
    try {
        for (const Column& column : file.columns) file.create_column(column);
        file.checksums.resize(file.columns.size());
        file.write_attributes();
    } catch (...) {
        file.close_and_remove();
        throw;
    }
}

Hdf5Writer::~Hdf5Writer() {
    if (file_ && !file_->finished) file_->close_and_remove();
}

void Hdf5Writer::append(const Dataset& rows) {
    File& file = *file_;
    CA_ASSERT_MSG(!file.finished, "append after finish");
    file.check_shape(rows);
    if (rows.n == 0) return;
    for (size_t c = 0; c < file.columns.size(); ++c) file.write_column_rows(c, rows, rows.n);
    file.rows += rows.n;
}

int64_t Hdf5Writer::rows() const { return file_->rows; }

void Hdf5Writer::finish() {
    File& file = *file_;
    CA_ASSERT_MSG(!file.finished, "finish called twice");
    for (size_t c = 0; c < file.columns.size(); ++c)
        hdf5::write_string_attribute(file.datasets[c].get(), "checksum", file.checksums[c].text(),
                                     file.path);
    hdf5::write_int_attribute(file.file.get(), "rows", file.rows, file.path);
    bool closed = true;
    for (Handle& dataset : file.datasets) closed = dataset.reset() && closed;
    closed = file.file.reset() && closed;
    if (!closed) {
        std::string reason = hdf5::last_error();
        file.close_and_remove();
        throw InputError(file.path + ": writing the file failed: " + reason);
    }
    std::error_code error;
    std::filesystem::rename(file.temporary_path, file.path, error);
    if (error) {
        file.close_and_remove();
        throw InputError(file.path +
                         ": cannot move the finished file into place: " + error.message());
    }
    file.finished = true;
}

void write_hdf5(const std::string& path, const Dataset& data, Hdf5WriteOptions options) {
    if (options.expected_rows == 0) options.expected_rows = data.n;
    Hdf5Writer writer(path, Hdf5Layout::of(data), options);
    writer.append(data);
    writer.finish();
}

}  // namespace ca
