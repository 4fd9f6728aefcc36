// Reading the stored HDF5 file: header and shape checks on open, row slices by hyperslab, and
// the value checks every slice passes before it reaches a model.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "core/errors.h"
#include "core/hdf5_columns.h"
#include "core/hdf5_store.h"

namespace ca {

using namespace hdf5;

struct Hdf5Reader::File {
    std::string path;
    Hdf5Layout layout;
    std::vector<Column> columns;
    Handle file;
    std::vector<Handle> datasets;        ///< one per column
    std::vector<std::string> checksums;  ///< one per column, as written
    int64_t rows = 0;

    void read_header();
    void read_features();
    void open_columns();
    void open_column(const Column& column);
    void read_column_rows(size_t index, int64_t first, int64_t count, Dataset& out) const;
    template <typename T>
    void verify_checksum(size_t index, const std::vector<T>& values) const;
};

namespace {

bool has_dataset(hid_t file, const char* name, const std::string& path) {
    htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
    if (exists < 0) check(herr_t(-1), path, std::string("cannot look for column '") + name + "'");
    return exists > 0;
}

FeatureType feature_type_named(const std::string& name, const std::string& where) {
    for (FeatureType type :
         {FeatureType::kNumeric, FeatureType::kBinary, FeatureType::kCategorical})
        if (name == to_string(type)) return type;
    throw InputError(where + ": unknown feature type \"" + name +
                     "\"; expected numeric, binary or categorical");
}

CategoricalEncoding encoding_named(const std::string& name, const std::string& where) {
    if (name == "onehot") return CategoricalEncoding::kOneHot;
    if (name == "ordinal") return CategoricalEncoding::kOrdinal;
    throw InputError(where + ": unknown encoding \"" + name + "\"; expected onehot or ordinal");
}

bool flag_attribute(hid_t object, const std::string& name, const std::string& path) {
    int64_t value = hdf5::read_int_attribute(object, name, path);
    if (value != 0 && value != 1)
        throw InputError(path + ": attribute '" + name + "' is " + std::to_string(value) +
                         ", expected 0 or 1");
    return value == 1;
}

}  // namespace

void Hdf5Reader::File::read_header() {
    const hid_t root = file.get();
    if (!hdf5::has_attribute(root, "format", path) ||
        hdf5::read_string_attribute(root, "format", path) != kFormatName)
        throw InputError(path + ": not a clusteralloc data file (no format attribute \"" +
                         kFormatName +
                         "\"); write one with `clusteralloc generate` or "
                         "`clusteralloc convert`");
    int64_t version = hdf5::read_int_attribute(root, "format_version", path);
    if (version != kFormatVersion)
        throw InputError(path + ": format version " + std::to_string(version) +
                         ", but this build reads version " + std::to_string(kFormatVersion));
    if (!hdf5::has_attribute(root, "rows", path))
        throw InputError(path + ": the file was never finished (no row count)");
    rows = hdf5::read_int_attribute(root, "rows", path);
    if (rows < 0) throw InputError(path + ": negative row count " + std::to_string(rows));

    Dataset& header = layout.header;
    header.source = hdf5::read_string_attribute(root, "source", path);
    layout.provenance = hdf5::read_string_attribute(root, "provenance", path);
    header.arm_names = hdf5::read_strings_attribute(root, "arm_names", path);
    header.m = int(header.arm_names.size());
    if (header.m < 1) throw InputError(path + ": attribute 'arm_names' is empty");
    header.aux_names = hdf5::read_strings_attribute(root, "aux_names", path);
    header.value_is_binary = flag_attribute(root, "value_is_binary", path);
    header.cost_is_binary = flag_attribute(root, "cost_is_binary", path);
    std::string missing = hdf5::read_string_attribute(root, "missing", path);
    if (missing != "error" && missing != "impute_mean")
        throw InputError(path + ": attribute 'missing' is \"" + missing +
                         "\", expected error or impute_mean");
    layout.missing = missing == "error" ? MissingPolicy::kError : MissingPolicy::kImputeMean;
}

void Hdf5Reader::File::read_features() {
    if (!has_dataset(file.get(), "x", path)) throw InputError(path + ": column 'x' is missing");
    Handle x =
        checked(H5Dopen2(file.get(), "x", H5P_DEFAULT), H5Dclose, path, "cannot open column 'x'");
    std::vector<std::string> names = hdf5::read_strings_attribute(x.get(), "feature_names", path);
    std::vector<std::string> types = hdf5::read_strings_attribute(x.get(), "feature_types", path);
    std::vector<std::string> encodings =
        hdf5::read_strings_attribute(x.get(), "feature_encodings", path);
    if (names.empty() || types.size() != names.size() || encodings.size() != names.size())
        throw InputError(path + ": column 'x' describes " + std::to_string(names.size()) +
                         " names, " + std::to_string(types.size()) + " types and " +
                         std::to_string(encodings.size()) +
                         " encodings; expected one each per "
                         "feature, at least one");
    for (size_t f = 0; f < names.size(); ++f) {
        std::string where = path + ": feature " + std::to_string(f) + " '" + names[f] + "'";
        StoredFeature feature;
        feature.name = names[f];
        feature.type = feature_type_named(types[f], where);
        feature.encoding = encoding_named(encodings[f], where);
        if (feature.type == FeatureType::kCategorical)
            feature.levels =
                hdf5::read_strings_attribute(x.get(), "levels_" + std::to_string(f), path);
        layout.features.push_back(std::move(feature));
        layout.header.feature_names.push_back(names[f]);
    }
    layout.header.d = int(names.size());
}

void Hdf5Reader::File::open_column(const Column& column) {
    const std::string what = "cannot open column '" + column.name + "'";
    Handle access = dataset_access(kTargetChunkBytes, path);
    Handle dataset =
        checked(H5Dopen2(file.get(), column.name.c_str(), access.get()), H5Dclose, path, what);
    Handle space = checked(H5Dget_space(dataset.get()), H5Sclose, path, what);
    Handle type = checked(H5Dget_type(dataset.get()), H5Tclose, path, what);
    const int rank = column.matrix ? 2 : 1;
    hsize_t dims[2] = {0, 1};
    int stored_rank = H5Sget_simple_extent_ndims(space.get());
    if (stored_rank == rank) H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    if (stored_rank != rank || dims[0] != hsize_t(rows) ||
        (column.matrix && dims[1] != hsize_t(column.width))) {
        std::ostringstream message;
        message << path << ": column '" << column.name << "' has shape (" << dims[0];
        if (stored_rank == 2) message << " x " << dims[1];
        message << ") but the file's header says (" << rows;
        if (column.matrix) message << " x " << column.width;
        message << ")";
        throw InputError(message.str());
    }
    if (H5Tget_class(type.get()) != element_type(column.kind).type_class)
        throw InputError(
            path + ": column '" + column.name + "' holds " +
            (H5Tget_class(type.get()) == H5T_INTEGER ? "integers" : "non-integers") +
            ", expected " +
            (element_type(column.kind).type_class == H5T_INTEGER ? "integers" : "floats"));
    // Damaged metadata can make a column look unwritten, and HDF5 then reads zeros.
    if (rows > 0 && H5Dget_storage_size(dataset.get()) == 0)
        throw InputError(path + ": column '" + column.name + "' holds no data for its " +
                         std::to_string(rows) + " rows (truncated or corrupt file?)");
    checksums.push_back(hdf5::read_string_attribute(dataset.get(), "checksum", path));
    datasets.push_back(std::move(dataset));
}

void Hdf5Reader::File::open_columns() {
    layout.has_propensity = has_dataset(file.get(), "propensity", path);
    layout.has_truth =
        has_dataset(file.get(), "true_value", path) || has_dataset(file.get(), "true_cost", path);
    layout.has_user_id = has_dataset(file.get(), "user_id", path);
    layout.has_source_line = has_dataset(file.get(), "source_line", path);
    columns = columns_of(layout);
    for (const Column& column : columns) {
        if (!has_dataset(file.get(), column.name.c_str(), path))
            throw InputError(path + ": column '" + column.name + "' is missing");
        open_column(column);
    }
}

void Hdf5Reader::File::read_column_rows(size_t index, int64_t first, int64_t count,
                                        Dataset& out) const {
    const Column& column = columns[index];
    const hid_t dataset = datasets[index].get();
    const std::string what = "cannot read " + rows_text(first, count) + " of column '" +
                             column.name + "' (truncated or corrupt file?)";
    Handle file_space = checked(H5Dget_space(dataset), H5Sclose, path, what);
    Handle memory_space = select_rows(file_space.get(), column, first, count, path);
    const hid_t memory_type = element_type(column.kind).memory;
    visit_column(out, column, [&](auto& values) {
        values.resize(size_t(count * column.width));
        check(H5Dread(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT,
                      values.data()),
              path, what);
        if (first == 0 && count == rows) verify_checksum(index, values);
    });
}

template <typename T>
void Hdf5Reader::File::verify_checksum(size_t index, const std::vector<T>& values) const {
    ColumnChecksum checksum;
    checksum.add(values.data(), values.size() * sizeof(values[0]));
    if (checksum.text() != checksums[index])
        throw InputError(path + ": column '" + columns[index].name +
                         "' does not match its checksum (corrupt file?)");
}

namespace {

// Throws "path: column 'name', row r: <message>" with the file's 0-based row.
[[noreturn]] void fail_row(const std::string& path, const std::string& column, int64_t row,
                           const std::string& message) {
    std::ostringstream out;
    out << path << ": " << column << ", row " << row << ": " << message;
    throw InputError(out.str());
}

template <typename T>
std::string text_of(T value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

void check_feature_cell(const std::string& path, const StoredFeature& feature, bool imputes,
                        float value, int64_t row) {
    const std::string column = "column 'x' (feature '" + feature.name + "')";
    if (std::isnan(value)) {
        if (!imputes)
            fail_row(path, column, row, "missing (NaN), but the file's missing policy is error");
        return;
    }
    if (!std::isfinite(value)) fail_row(path, column, row, text_of(value) + " is not finite");
    if (feature.type == FeatureType::kBinary && value != 0.0f && value != 1.0f)
        fail_row(path, column, row, text_of(value) + " in a binary feature; expected 0 or 1");
    if (feature.type == FeatureType::kCategorical &&
        (value != std::floor(value) || value < 0 || value >= float(feature.levels.size())))
        fail_row(path, column, row,
                 text_of(value) + " is no index into the feature's " +
                     std::to_string(feature.levels.size()) + " levels");
}

void check_outcomes(const std::string& path, const std::string& column,
                    const std::vector<float>& values, int64_t first, bool non_negative) {
    for (size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i]))
            fail_row(path, column, first + int64_t(i), text_of(values[i]) + " is not finite");
        if (non_negative && values[i] < 0)
            fail_row(path, column, first + int64_t(i), text_of(values[i]) + " is negative");
    }
}

// The loader's guarantees for CSV input, checked again here: a file written by another tool,
// or damaged where no checksum looks, must not hand bad numbers to the models.
void check_stored_rows(const std::string& path, const Hdf5Layout& layout, const Dataset& rows,
                       int64_t first) {
    const bool imputes = layout.missing == MissingPolicy::kImputeMean;
    for (int64_t i = 0; i < rows.n; ++i)
        for (int f = 0; f < rows.d; ++f)
            check_feature_cell(path, layout.features[size_t(f)], imputes,
                               rows.x[size_t(i * rows.d + f)], first + i);
    for (int64_t i = 0; i < rows.n; ++i) {
        if (rows.arm[size_t(i)] < 0 || rows.arm[size_t(i)] >= rows.m)
            fail_row(path, "column 'arm'", first + i,
                     "arm " + std::to_string(rows.arm[size_t(i)]) + " is outside [0, " +
                         std::to_string(rows.m) + ")");
    }
    check_outcomes(path, "column 'value'", rows.value, first, false);
    check_outcomes(path, "column 'cost'", rows.cost, first, true);
    for (size_t a = 0; a < rows.aux.size(); ++a)
        check_outcomes(path, "column 'aux_" + std::to_string(a) + "' (" + rows.aux_names[a] + ")",
                       rows.aux[a], first, false);
    for (size_t i = 0; i < rows.propensity.size(); ++i) {
        double p = rows.propensity[i];
        if (!(p > 0.0 && p <= 1.0))
            fail_row(path, "column 'propensity'", first + int64_t(i),
                     text_of(p) + " is outside (0, 1]");
    }
    // The truth is per arm: report the row, not the flat index.
    for (size_t i = 0; i < rows.true_value.size(); ++i) {
        if (!std::isfinite(rows.true_value[i]) || !std::isfinite(rows.true_cost[i]) ||
            rows.true_cost[i] < 0)
            fail_row(path, "column 'true_value' or 'true_cost'", first + int64_t(i) / rows.m,
                     "a true value or cost is not finite, or a true cost is negative");
    }
}

}  // namespace

namespace {
// The serial HDF5 library keeps global state: one reader's calls at a time, process-wide.
std::mutex& library_mutex() {
    static std::mutex mutex;
    return mutex;
}
}  // namespace

Hdf5Reader::Hdf5Reader(std::string path) : file_(std::make_unique<File>()) {
    std::lock_guard<std::mutex> lock(library_mutex());
    hdf5::silence_library_errors();
    File& file = *file_;
    file.path = std::move(path);
    std::error_code error;
    if (!std::filesystem::is_regular_file(file.path, error))
        throw InputError(file.path + ": data file not found");
    if (H5Fis_hdf5(file.path.c_str()) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        throw InputError(file.path +
                         ": not an HDF5 file (no HDF5 signature; truncated, "
                         "corrupt or another format)");
    }
    file.file = checked(H5Fopen(file.path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
                        file.path, "cannot open the HDF5 file (truncated or corrupt?)");
    file.read_header();
    file.read_features();
    file.open_columns();
}

Hdf5Reader::~Hdf5Reader() {
    std::lock_guard<std::mutex> lock(library_mutex());
    file_.reset();  // closes the handles under the lock
}

const std::string& Hdf5Reader::path() const { return file_->path; }
const Hdf5Layout& Hdf5Reader::layout() const { return file_->layout; }
int64_t Hdf5Reader::rows() const { return file_->rows; }

Dataset Hdf5Reader::read_rows(int64_t first, int64_t count) const {
    std::lock_guard<std::mutex> lock(library_mutex());
    const File& file = *file_;
    if (first < 0 || count < 0 || first + count > file.rows)
        throw InputError(file.path + ": " + rows_text(first, count) +
                         " leave the file's rows [0, " + std::to_string(file.rows) + ")");
    Dataset out = file.layout.header;
    out.n = count;
    out.aux.assign(out.aux_names.size(), {});
    for (size_t c = 0; c < file.columns.size(); ++c) file.read_column_rows(c, first, count, out);
    check_stored_rows(file.path, file.layout, out, first);
    return out;
}

void Hdf5Reader::verify_checksums(const Dataset& rows) const {
    const File& file = *file_;
    CA_ASSERT(rows.n == file.rows);
    for (size_t c = 0; c < file.columns.size(); ++c)
        visit_column(rows, file.columns[c],
                     [&](const auto& values) { file.verify_checksum(c, values); });
}

Dataset read_hdf5(const std::string& path) {
    Hdf5Reader reader(path);
    return reader.read_rows(0, reader.rows());
}

}  // namespace ca
