// The hdf5 source's config keys, the raw table <-> stored file mapping, and the ranks' reading
// of their own blocks of rows.
#include "core/stored_table.h"

#include <climits>
#include <cmath>
#include <numeric>

#include "core/errors.h"
#include "core/rank_gather.h"

namespace ca {

namespace {

// The same checks as the schema's split object for the other sources.
void parse_split(const ConfigNode& data, SplitFractions& split) {
    ConfigNode node = data.child("split");
    if (!node.is_object()) data.fail("split", "expected an object, got " + node.json().dump());
    node.allow_only({"train", "validation", "test"});
    split.train = node.number_in("train", split.train, 0.0, 1.0);
    split.validation = node.number_in("validation", split.validation, 0.0, 1.0);
    split.test = node.number_in("test", split.test, 0.0, 1.0);
    double total = split.train + split.validation + split.test;
    if (std::fabs(total - 1.0) > 1e-6)
        node.fail("", "train + validation + test must be 1, got " + std::to_string(total));
    if (split.train <= 0) node.fail("train", "the training share must be positive");
}

// A stored column back into the loader's raw form: numbers, or codes with -1 for missing.
RawFeature raw_feature(const StoredFeature& stored, const Dataset& rows, int f,
                       const std::string& path) {
    RawFeature feature;
    feature.spec.column = {stored.name, path + ": stored feature " + std::to_string(f)};
    feature.spec.type = stored.type;
    feature.spec.encoding = stored.encoding;
    const bool categorical = stored.type == FeatureType::kCategorical;
    if (categorical) {
        feature.levels = stored.levels;
        feature.codes.resize(size_t(rows.n));
    } else {
        feature.numbers.resize(size_t(rows.n));
    }
    for (int64_t i = 0; i < rows.n; ++i) {
        float cell = rows.x[size_t(i * rows.d + f)];
        if (std::isnan(cell)) feature.missing += 1;
        if (categorical) {
            feature.codes[size_t(i)] = std::isnan(cell) ? -1 : int32_t(cell);
        } else {
            feature.numbers[size_t(i)] = cell;
        }
    }
    return feature;
}

RawTable raw_table(const Dataset& rows, const Hdf5Layout& layout, const std::string& path) {
    RawTable table;
    table.path = path;
    table.n = rows.n;
    table.arm_names = rows.arm_names;
    for (int f = 0; f < rows.d; ++f)
        table.features.push_back(raw_feature(layout.features[size_t(f)], rows, f, path));
    table.arm = rows.arm;
    table.value = rows.value;
    table.cost = rows.cost;
    table.aux_names = rows.aux_names;
    table.aux = rows.aux;
    table.propensity = rows.propensity;
    table.user_id = rows.user_id;
    table.source_line = rows.source_line;
    table.value_is_binary = rows.value_is_binary;
    table.cost_is_binary = rows.cost_is_binary;
    return table;
}

// The ranks' row blocks joined in rank order: every per-row column concatenated.
void join_rows_over_ranks(Dataset& rows, Communicator& comm) {
    rows.n = allreduce_sum(comm, rows.n);
    join_over_ranks(comm, rows.x);
    join_over_ranks(comm, rows.arm);
    join_over_ranks(comm, rows.value);
    join_over_ranks(comm, rows.cost);
    for (std::vector<float>& column : rows.aux) join_over_ranks(comm, column);
    join_over_ranks(comm, rows.propensity);
    join_over_ranks(comm, rows.true_value);
    join_over_ranks(comm, rows.true_cost);
    join_over_ranks(comm, rows.user_id);
    join_over_ranks(comm, rows.source_line);
}

// Rows [0, n): with several ranks each reads (and checks) its block of rows, then the blocks
// are joined on every rank.
Dataset read_rows_over_ranks(const Hdf5Reader& reader, int64_t n, Communicator& comm) {
    if (comm.size() == 1) return reader.read_rows(0, n);
    const RowRange own = comm.shard(n);
    Dataset rows;
    std::string error;
    try {
        if (own.size() > 0) {
            rows = reader.read_rows(own.begin, own.size());
        } else {  // more ranks than rows: nothing to select
            rows = reader.layout().header;
            rows.aux.assign(rows.aux_names.size(), {});
        }
    } catch (const InputError& failure) {
        error = failure.what();
    }
    throw_first_error(comm, error);
    join_rows_over_ranks(rows, comm);
    if (n == reader.rows()) reader.verify_checksums(rows);
    return rows;
}

}  // namespace

bool is_hdf5_source(const ConfigNode& data) {
    return data.is_object() && data.json().value("source", nlohmann::json()) == "hdf5";
}

DataSchema parse_hdf5_schema(const ConfigNode& data, const std::string& path_override) {
    data.allow_only({"source", "path", "split", "max_rows"});
    DataSchema schema;
    schema.origin = data.origin();
    schema.path = path_override.empty() ? data.string("path", "") : path_override;
    if (schema.path.empty())
        data.fail("path", "no data file: set data.path or give one on the command line");
    if (data.has("max_rows")) schema.max_rows = data.integer_in("max_rows", 1, 1, LONG_MAX);
    if (data.has("split")) parse_split(data, schema.split);
    return schema;
}

StoredTable load_stored_table(const std::string& path, int64_t max_rows, Communicator& comm) {
    Hdf5Reader reader(path);
    if (reader.rows() == 0) throw InputError(path + ": the file holds no rows");
    const int64_t n = max_rows > 0 ? std::min(max_rows, reader.rows()) : reader.rows();
    StoredTable stored;
    stored.rows = read_rows_over_ranks(reader, n, comm);
    // Every row needs an id for hashing split clusters; the loader uses the row index.
    if (stored.rows.user_id.empty()) {
        stored.rows.user_id.resize(size_t(n));
        std::iota(stored.rows.user_id.begin(), stored.rows.user_id.end(), int64_t(0));
    }
    stored.table = raw_table(stored.rows, reader.layout(), path);
    stored.table.truncated = n < reader.rows();
    stored.missing = reader.layout().missing;
    stored.rows.x.clear();
    stored.rows.x.shrink_to_fit();
    return stored;
}

Hdf5Layout stored_layout(const RawTable& table, MissingPolicy missing) {
    Hdf5Layout layout;
    Dataset& header = layout.header;
    header.source = table.path;
    header.d = int(table.features.size());
    header.m = int(table.arm_names.size());
    header.arm_names = table.arm_names;
    header.aux_names = table.aux_names;
    header.value_is_binary = table.value_is_binary;
    header.cost_is_binary = table.cost_is_binary;
    for (const RawFeature& raw : table.features) {
        header.feature_names.push_back(raw.name());
        layout.features.push_back({raw.name(), raw.spec.type, raw.spec.encoding, raw.levels});
    }
    layout.has_propensity = !table.propensity.empty();
    layout.has_user_id = !table.user_id.empty();
    layout.has_source_line = !table.source_line.empty();
    layout.missing = missing;
    return layout;
}

namespace {
template <typename T>
std::vector<T> rows_of(const std::vector<T>& column, int64_t first, int64_t count) {
    if (column.empty()) return {};
    return std::vector<T>(column.begin() + first, column.begin() + first + count);
}
}  // namespace

Dataset stored_rows(const RawTable& table, int64_t first, int64_t count) {
    CA_ASSERT_MSG(first >= 0 && count >= 0 && first + count <= table.n,
                  "rows [" << first << ", " << first + count << ") of " << table.n);
    Dataset rows = stored_layout(table, MissingPolicy::kError).header;
    rows.n = count;
    rows.x.assign(size_t(count * rows.d), 0.0f);
    for (int f = 0; f < rows.d; ++f) {
        const RawFeature& raw = table.features[size_t(f)];
        for (int64_t i = 0; i < count; ++i) {
            float cell =
                raw.categorical()
                    ? (raw.codes[size_t(first + i)] < 0 ? NAN : float(raw.codes[size_t(first + i)]))
                    : raw.numbers[size_t(first + i)];
            rows.x[size_t(i * rows.d + f)] = cell;
        }
    }
    rows.arm = rows_of(table.arm, first, count);
    rows.value = rows_of(table.value, first, count);
    rows.cost = rows_of(table.cost, first, count);
    for (const std::vector<float>& column : table.aux)
        rows.aux.push_back(rows_of(column, first, count));
    rows.propensity = rows_of(table.propensity, first, count);
    rows.user_id = rows_of(table.user_id, first, count);
    rows.source_line = rows_of(table.source_line, first, count);
    return rows;
}

}  // namespace ca
