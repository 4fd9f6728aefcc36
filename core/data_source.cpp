// Opening a data source (CSV, Criteo or synthetic) and turning a seeded split into Datasets.
#include "core/data_source.h"

#include <filesystem>
#include <sstream>

#include "core/data_split.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/stored_table.h"
#include "core/synthetic_generator.h"

// The build defines the source tree's location; a build without it looks in "." only.
#ifndef CA_SOURCE_DIR
#define CA_SOURCE_DIR "."
#endif

namespace ca {

namespace {

// Configs name files relative to the repository root; runs started elsewhere (a build folder)
// still find them through the source tree.
std::string resolve_data_path(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code error;
    if (fs::path(path).is_absolute() || fs::exists(path, error)) return path;
    fs::path in_source = fs::path(CA_SOURCE_DIR) / path;
    if (fs::exists(in_source, error)) return in_source.lexically_normal().string();
    CA_THROW(InputError, path << ": data file not found (looked in the working directory "
                              << fs::current_path(error).string() << " and in the source tree "
                              << CA_SOURCE_DIR << ")");
}

template <typename T>
std::vector<T> gather(const std::vector<T>& column, const std::vector<int64_t>& rows) {
    if (column.empty()) return {};
    std::vector<T> out(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) out[i] = column[rows[i]];
    return out;
}

// The loader checks files itself; generated data gets the same guarantee here.
void check_every_arm_has_rows(const RawTable& table) {
    std::vector<int64_t> counts = table.arm_counts();
    for (size_t j = 0; j < counts.size(); ++j) {
        if (counts[j] == 0) {
            CA_THROW(InputError, table.path << ": arm " << j << " \"" << table.arm_names[j]
                                            << "\" has no rows among " << table.n
                                            << "; raise the row count or that arm's share");
        }
    }
}

void log_arm_counts(const RawTable& table) {
    std::vector<int64_t> counts = table.arm_counts();
    std::ostringstream line;
    line << file_name_of(table.path) << ": " << table.n << " rows";
    if (table.truncated) line << " (stopped at data.max_rows)";
    line << "; rows per arm:";
    for (size_t j = 0; j < counts.size(); ++j)
        line << (j ? ", " : " ") << table.arm_names[j] << " " << counts[j];
    log_info(line.str());
}

// The generated features become numeric raw columns, so they are standardised like any file's.
// The observed per-row columns move into the table; the rows keep what the table lacks (truth).
RawTable table_from_synthetic(Dataset& data) {
    RawTable table;
    table.path = data.source;
    table.n = data.n;
    table.arm_names = data.arm_names;
    for (int j = int(table.arm_names.size()); j < data.m; ++j)
        table.arm_names.push_back(std::to_string(j));
    for (int f = 0; f < data.d; ++f) {
        RawFeature feature;
        bool named = f < int(data.feature_names.size());
        feature.spec.column.name = named ? data.feature_names[f] : "x" + std::to_string(f);
        feature.numbers.resize(data.n);
        for (int64_t i = 0; i < data.n; ++i) feature.numbers[i] = data.x[i * data.d + f];
        table.features.push_back(std::move(feature));
    }
    table.arm = std::move(data.arm);
    table.value = std::move(data.value);
    table.cost = std::move(data.cost);
    table.aux_names = data.aux_names;
    table.aux = std::move(data.aux);
    table.propensity = std::move(data.propensity);
    table.user_id = std::move(data.user_id);
    table.source_line = std::move(data.source_line);
    table.value_is_binary = data.value_is_binary;
    table.cost_is_binary = data.cost_is_binary;
    data.arm.clear();
    data.value.clear();
    data.cost.clear();
    data.aux.clear();
    data.propensity.clear();
    data.user_id.clear();
    data.source_line.clear();
    return table;
}

template <typename T>
void drop_if_same(std::vector<T>& rows_column, const std::vector<T>& table_column) {
    if (rows_column != table_column) return;
    rows_column.clear();
    rows_column.shrink_to_fit();
}

// Stored rows repeat the table's observed columns: one copy of each is kept (the table's), 32
// bytes a row. A column is dropped from the rows only where the table holds the same values.
void drop_copies_of_table(Dataset& rows, const RawTable& table) {
    drop_if_same(rows.arm, table.arm);
    drop_if_same(rows.value, table.value);
    drop_if_same(rows.cost, table.cost);
    drop_if_same(rows.aux, table.aux);
    drop_if_same(rows.propensity, table.propensity);
    drop_if_same(rows.user_id, table.user_id);
    drop_if_same(rows.source_line, table.source_line);
}
}  // namespace

DataSource DataSource::open(const ConfigNode& data_node, const std::string& path_override,
                            Communicator& comm) {
    double start = wall_seconds();
    DataSource source;
    source.stored_ = is_hdf5_source(data_node);
    source.schema_ = parse_schema(data_node, path_override);
    if (source.stored_) {
        source.schema_.path = resolve_data_path(source.schema_.path);
        StoredTable stored = load_stored_table(source.schema_.path, source.schema_.max_rows, comm);
        source.schema_.missing = stored.missing;
        source.table_ = std::move(stored.table);
        source.synthetic_ = std::move(stored.rows);
        drop_copies_of_table(source.synthetic_, source.table_);
        check_every_arm_has_rows(source.table_);
    } else if (source.schema_.source == DataSourceKind::kSynthetic) {
        source.synthetic_ =
            generate_synthetic(parse_synthetic_params(data_node.child("synthetic")));
        source.table_ = table_from_synthetic(source.synthetic_);
        check_every_arm_has_rows(source.table_);
        source.synthetic_.x.clear();
        source.synthetic_.x.shrink_to_fit();
    } else {
        source.schema_.path = resolve_data_path(source.schema_.path);
        source.table_ = load_table(source.schema_, comm);
    }
    log_arm_counts(source.table_);
    log_debug("data loaded in " + std::to_string(wall_seconds() - start) + " s");
    return source;
}

DataSchema DataSource::parse_schema(const ConfigNode& data_node, const std::string& path_override) {
    return is_hdf5_source(data_node) ? parse_hdf5_schema(data_node, path_override)
                                     : parse_data_schema(data_node, path_override);
}

std::string DataSource::description() const {
    std::ostringstream out;
    out << file_name_of(table_.path) << ": " << table_.n << " rows, " << arms() << " arms";
    if (table_.truncated) out << " (first rows only: data.max_rows)";
    return out.str();
}

std::string DataSource::propensity_source() const {
    if (table_.propensity.empty()) return "arm shares (no propensity column)";
    if (stored_) return "per-row propensities stored in " + file_name_of(table_.path);
    if (schema_.source == DataSourceKind::kSynthetic) return "generator's assignment probabilities";
    std::ostringstream out;
    out << "per-row column '" << schema_.propensity.column.name << "'";
    if (schema_.propensity.invalid == InvalidPropensity::kClip)
        out << ", clipped into [" << schema_.propensity.clip_low << ", "
            << schema_.propensity.clip_high << "]";
    return out.str();
}

Dataset DataSource::make_dataset(const std::vector<int64_t>& rows,
                                 const FeatureEncoder& encoder) const {
    Dataset out;
    if (schema_.source == DataSourceKind::kSynthetic || stored_) {
        // The rows hold the truth and any column the table lacks; the rest comes from the table.
        out = synthetic_.subset(rows);
        if (out.arm.empty()) out.arm = gather(table_.arm, rows);
        if (out.value.empty()) out.value = gather(table_.value, rows);
        if (out.cost.empty()) out.cost = gather(table_.cost, rows);
        if (out.aux.empty())
            for (const auto& column : table_.aux) out.aux.push_back(gather(column, rows));
        if (out.propensity.empty()) out.propensity = gather(table_.propensity, rows);
        if (out.user_id.empty()) out.user_id = gather(table_.user_id, rows);
        if (out.source_line.empty()) out.source_line = gather(table_.source_line, rows);
    } else {
        out.source = table_.path;
        out.n = static_cast<int64_t>(rows.size());
        out.m = arms();
        out.arm_names = table_.arm_names;
        out.arm = gather(table_.arm, rows);
        out.value = gather(table_.value, rows);
        out.cost = gather(table_.cost, rows);
        out.aux_names = table_.aux_names;
        for (const std::vector<float>& column : table_.aux) out.aux.push_back(gather(column, rows));
        out.value_is_binary = table_.value_is_binary;
        out.cost_is_binary = table_.cost_is_binary;
        out.propensity = gather(table_.propensity, rows);
        out.user_id = gather(table_.user_id, rows);
        out.source_line = gather(table_.source_line, rows);
    }
    out.d = encoder.width();
    out.feature_names = encoder.feature_names();
    out.x = encoder.encode(table_, rows);
    return out;
}

void DataSource::log_imputation(const std::vector<int64_t>& train_rows,
                                const FeatureEncoder& encoder) const {
    int64_t total = 0;
    std::ostringstream detail;
    for (size_t c = 0; c < table_.features.size(); ++c) {
        const RawFeature& feature = table_.features[c];
        if (feature.missing == 0) continue;
        total += feature.missing;
        const EncodedColumn& column = encoder.columns()[c];
        detail << (detail.tellp() > 0 ? ", " : "") << feature.name() << ": " << feature.missing
               << (feature.categorical() ? " encoded as an unseen level" : " set to ");
        if (!feature.categorical()) detail << column.mean;
    }
    if (total == 0) return;
    log_warning(file_name_of(table_.path) + ": filled " + std::to_string(total) +
                " missing feature cells with the means of the " +
                std::to_string(train_rows.size()) + " training rows (" + detail.str() + ")");
}

DataSplits DataSource::split(uint64_t seed) const {
    SplitIndices rows = split_rows(table_.n, schema_.split, seed);
    if (rows.train.empty()) {
        CA_THROW(InputError, table_.path << ": the training split is empty (" << table_.n
                                         << " rows, train share " << schema_.split.train << ")");
    }
    if (rows.validation.empty() && schema_.split.validation > 0)
        log_warning(description() + ": the validation split is empty");
    if (rows.test.empty() && schema_.split.test > 0)
        log_warning(description() + ": the test split is empty");

    DataSplits splits;
    splits.encoder = FeatureEncoder::fit(table_, rows.train, schema_.missing);
    log_imputation(rows.train, splits.encoder);
    splits.train = make_dataset(rows.train, splits.encoder);
    splits.validation = make_dataset(rows.validation, splits.encoder);
    splits.test = make_dataset(rows.test, splits.encoder);
    std::vector<int64_t> train_counts = splits.train.arm_counts();
    for (int j = 0; j < arms(); ++j) {
        if (train_counts[j] == 0) {
            log_warning(description() + ": the training split (seed " + std::to_string(seed) +
                        ") has no rows of arm \"" + table_.arm_names[j] + "\"");
        }
    }
    return splits;
}

}  // namespace ca
