// DataSchema: what the config's "data" object says about the input table (source, columns and
// their roles, arms, missing-value policy, split fractions), parsed and checked in one place.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"

namespace ca {

enum class DataSourceKind { kCsv, kCriteo, kSynthetic };
enum class FeatureType { kNumeric, kBinary, kCategorical };
enum class CategoricalEncoding { kOneHot, kOrdinal };
enum class MissingPolicy { kError, kImputeMean };
enum class InvalidPropensity { kError, kClip };

// A column the loader reads, with the config key that named it (for messages).
struct ColumnRef {
    std::string name;  ///< header name in the file
    std::string key;   ///< "configs/x.json: data.value.column", or the preset that set it
};

struct FeatureSpec {
    ColumnRef column;
    FeatureType type = FeatureType::kNumeric;
    /// Categorical columns only: one-hot (levels of train in order of first appearance) or
    /// ordinal (index of the level among the sorted train levels).
    CategoricalEncoding encoding = CategoricalEncoding::kOneHot;
};

struct AuxSpec {
    ColumnRef column;
    /// An optional auxiliary column is dropped with a note when the header lacks it.
    bool required = true;
};

struct PropensitySpec {
    ColumnRef column;  ///< empty name: no per-row propensity, the arm shares are used
    /// Values outside (0, 1): refuse the file, or clip into [clip_low, clip_high].
    InvalidPropensity invalid = InvalidPropensity::kError;
    double clip_low = 0.01;   ///< lower clip bound, in (0, 1)
    double clip_high = 0.99;  ///< upper clip bound, in (clip_low, 1)
};

struct SplitFractions {
    double train = 0.6;       ///< share of rows that fit the model and the encoder
    double validation = 0.1;  ///< share for early stopping
    double test = 0.3;        ///< share for the reported metrics
};

struct DataSchema {
    DataSourceKind source = DataSourceKind::kCsv;
    std::string origin;  ///< config file name, for messages
    std::string path;    ///< data file (csv, criteo); the command line may override it
    ColumnRef treatment;
    /// Arm labels as they appear in the treatment column; index = arm, arm 0 is control.
    std::vector<std::string> arm_labels;
    ColumnRef value;
    /// Cost from a column (cost.name set), or a fixed cost per arm (cost_per_arm, M entries).
    ColumnRef cost;
    std::vector<double> cost_per_arm;
    std::vector<AuxSpec> aux;
    std::vector<FeatureSpec> features;
    PropensitySpec propensity;
    ColumnRef id;  ///< int64 user id column; empty name: the row index serves as id
    MissingPolicy missing = MissingPolicy::kError;
    SplitFractions split;
    /// Read at most this many data rows (0 = all), for quick runs on large files.
    int64_t max_rows = 0;
    /// The "synthetic" object, handed to the synthetic generator's own parser.
    nlohmann::json synthetic;

    int arms() const { return static_cast<int>(arm_labels.size()); }
    bool cost_from_column() const { return !cost.name.empty(); }
    bool has_propensity() const { return !propensity.column.name.empty(); }
    bool has_id() const { return !id.name.empty(); }
};

// Parses the "data" object. Unknown keys, wrong types, out-of-range values and inconsistent
// settings throw ConfigError naming the file and key path. path_override (the command line's
// --data), when not empty, replaces "path".
DataSchema parse_data_schema(const ConfigNode& data_node, const std::string& path_override = "");

// The schema as a "data" object that parse_data_schema reads back to the same schema, so a run
// can record the exact data settings it used (presets written out in full).
nlohmann::json data_schema_to_json(const DataSchema& schema);

const char* to_string(DataSourceKind kind);
const char* to_string(FeatureType type);
const char* to_string(CategoricalEncoding encoding);

}  // namespace ca
