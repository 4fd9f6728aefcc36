// Parsing and checking of the config's "data" object, the Criteo preset, and the way back to
// JSON.
#include "core/schema.h"

#include <climits>
#include <cmath>
#include <set>

#include "core/errors.h"

namespace ca {

namespace {
const char* const kCriteoPreset = "criteo preset";

ColumnRef preset_column(const std::string& name, const std::string& role) {
    return {name, std::string(kCriteoPreset) + " (data." + role + ")"};
}

// Criteo Uplift v2: f0..f11, treatment 0/1, value conversion, cost visit, exposure if present.
DataSchema criteo_preset() {
    DataSchema schema;
    schema.source = DataSourceKind::kCriteo;
    schema.treatment = preset_column("treatment", "treatment.column");
    schema.arm_labels = {"0", "1"};
    schema.value = preset_column("conversion", "value.column");
    schema.cost = preset_column("visit", "cost.column");
    schema.aux.push_back({preset_column("exposure", "aux"), false});
    for (int i = 0; i < 12; ++i) {
        FeatureSpec feature;
        feature.column = preset_column("f" + std::to_string(i), "features");
        schema.features.push_back(feature);
    }
    return schema;
}

ConfigNode object_child(const ConfigNode& node, const std::string& key) {
    ConfigNode child = node.child(key);
    if (!child.is_object()) node.fail(key, "expected an object, got " + child.json().dump());
    return child;
}

ConfigNode array_child(const ConfigNode& node, const std::string& key) {
    ConfigNode child = node.child(key);
    if (!child.is_array()) node.fail(key, "expected an array, got " + child.json().dump());
    return child;
}

ColumnRef parse_column(const ConfigNode& node) {
    std::string name = node.required_string("column");
    if (name.empty()) node.fail("column", "the column name is empty");
    return {name, node.where("column")};
}

// {"column": "x"} objects: value, cost (column form), aux entries.
ColumnRef parse_column_object(const ConfigNode& parent, const std::string& key) {
    ConfigNode node = object_child(parent, key);
    node.allow_only({"column"});
    return parse_column(node);
}

void parse_treatment(const ConfigNode& data, DataSchema& schema) {
    ConfigNode node = object_child(data, "treatment");
    node.allow_only({"column", "arms"});
    schema.treatment = parse_column(node);
    if (!node.has("arms")) node.fail("arms", "required key is missing (labels, control first)");
    schema.arm_labels = node.strings("arms", {});
    if (schema.arm_labels.size() < 2) {
        node.fail("arms", "expected at least two labels (control first), got " +
                              std::to_string(schema.arm_labels.size()));
    }
    std::set<std::string> seen;
    for (const std::string& label : schema.arm_labels) {
        if (!seen.insert(label).second) node.fail("arms", "label \"" + label + "\" is repeated");
    }
}

void parse_cost(const ConfigNode& data, DataSchema& schema) {
    ConfigNode node = object_child(data, "cost");
    node.allow_only({"column", "per_arm"});
    if (node.has("column") == node.has("per_arm"))
        node.fail("", "give exactly one of \"column\" or \"per_arm\"");
    schema.cost = {};
    schema.cost_per_arm.clear();
    if (node.has("column")) {
        schema.cost = parse_column(node);
        return;
    }
    schema.cost_per_arm = node.numbers("per_arm", {});
    for (size_t j = 0; j < schema.cost_per_arm.size(); ++j) {
        if (schema.cost_per_arm[j] < 0 || !std::isfinite(schema.cost_per_arm[j])) {
            node.fail(
                "per_arm[" + std::to_string(j) + "]",
                "costs must be finite and >= 0, got " + std::to_string(schema.cost_per_arm[j]));
        }
    }
}

void parse_aux(const ConfigNode& data, DataSchema& schema) {
    ConfigNode list = array_child(data, "aux");
    schema.aux.clear();
    for (size_t i = 0; i < list.size(); ++i) {
        ConfigNode node = list.element(i);
        if (!node.is_object()) node.fail("", "expected {\"column\": ...}");
        node.allow_only({"column", "optional"});
        schema.aux.push_back({parse_column(node), !node.boolean("optional", false)});
    }
}

FeatureSpec parse_feature(const ConfigNode& node) {
    if (!node.is_object()) node.fail("", "expected {\"column\": ..., \"type\": ...}");
    node.allow_only({"column", "type", "encoding"});
    FeatureSpec feature;
    feature.column = parse_column(node);
    std::string type = node.choice("type", "numeric", {"numeric", "binary", "categorical"});
    feature.type = type == "binary"        ? FeatureType::kBinary
                   : type == "categorical" ? FeatureType::kCategorical
                                           : FeatureType::kNumeric;
    if (node.has("encoding") && feature.type != FeatureType::kCategorical)
        node.fail("encoding", "applies to categorical features only; this one is " + type);
    std::string encoding = node.choice("encoding", "onehot", {"onehot", "ordinal"});
    feature.encoding =
        encoding == "ordinal" ? CategoricalEncoding::kOrdinal : CategoricalEncoding::kOneHot;
    return feature;
}

void parse_features(const ConfigNode& data, DataSchema& schema) {
    ConfigNode list = array_child(data, "features");
    if (list.size() == 0) data.fail("features", "expected at least one feature column");
    schema.features.clear();
    std::set<std::string> seen;
    for (size_t i = 0; i < list.size(); ++i) {
        schema.features.push_back(parse_feature(list.element(i)));
        const std::string& name = schema.features.back().column.name;
        if (!seen.insert(name).second)
            list.element(i).fail("column", "feature column '" + name + "' is listed twice");
    }
}

void parse_propensity(const ConfigNode& data, DataSchema& schema) {
    ConfigNode node = object_child(data, "propensity");
    node.allow_only({"column", "invalid", "clip"});
    PropensitySpec& spec = schema.propensity;
    spec.column = parse_column(node);
    std::string invalid = node.choice("invalid", "error", {"error", "clip"});
    spec.invalid = invalid == "clip" ? InvalidPropensity::kClip : InvalidPropensity::kError;
    std::vector<double> bounds = node.numbers("clip", {spec.clip_low, spec.clip_high});
    if (bounds.size() != 2 || !(bounds[0] > 0 && bounds[0] < bounds[1] && bounds[1] < 1)) {
        node.fail("clip", "expected [low, high] with 0 < low < high < 1, got " +
                              node.json().value("clip", nlohmann::json()).dump());
    }
    spec.clip_low = bounds[0];
    spec.clip_high = bounds[1];
}

void parse_split(const ConfigNode& data, SplitFractions& split) {
    ConfigNode node = object_child(data, "split");
    node.allow_only({"train", "validation", "test"});
    split.train = node.number_in("train", split.train, 0.0, 1.0);
    split.validation = node.number_in("validation", split.validation, 0.0, 1.0);
    split.test = node.number_in("test", split.test, 0.0, 1.0);
    double total = split.train + split.validation + split.test;
    if (std::fabs(total - 1.0) > 1e-6)
        node.fail("", "train + validation + test must be 1, got " + std::to_string(total));
    if (split.train <= 0) node.fail("train", "the training share must be positive");
}

void check_arm_costs(const ConfigNode& data, const DataSchema& schema) {
    if (schema.cost_from_column()) return;
    if (schema.cost_per_arm.size() != schema.arm_labels.size()) {
        data.fail("cost.per_arm", "has " + std::to_string(schema.cost_per_arm.size()) +
                                      " entries but there are " +
                                      std::to_string(schema.arm_labels.size()) + " arms");
    }
    if (schema.cost_per_arm[0] != 0)
        data.fail("cost.per_arm[0]", "arm 0 is control and must cost 0");
}

// A feature that is also an outcome or the treatment would hand the model its own label.
void check_roles(const ConfigNode& data, const DataSchema& schema) {
    std::vector<std::pair<std::string, std::string>> roles = {
        {schema.treatment.name, "the treatment column"},
        {schema.value.name, "the value column"},
        {schema.cost.name, "the cost column"},
        {schema.propensity.column.name, "the propensity column"}};
    for (const AuxSpec& aux : schema.aux) roles.push_back({aux.column.name, "an aux column"});
    for (size_t i = 0; i < schema.features.size(); ++i) {
        for (const auto& role : roles) {
            if (!role.first.empty() && schema.features[i].column.name == role.first) {
                data.fail("features[" + std::to_string(i) + "].column",
                          "'" + role.first + "' is also " + role.second +
                              "; an outcome or the treatment cannot be a feature");
            }
        }
    }
}

void parse_table_keys(const ConfigNode& data, DataSchema& schema) {
    if (data.has("path")) schema.path = data.string("path", "");
    if (data.has("treatment")) parse_treatment(data, schema);
    if (data.has("value")) schema.value = parse_column_object(data, "value");
    if (data.has("cost")) parse_cost(data, schema);
    if (data.has("aux")) parse_aux(data, schema);
    if (data.has("features")) parse_features(data, schema);
    if (data.has("propensity")) parse_propensity(data, schema);
    if (data.has("id_column")) {
        schema.id = {data.string("id_column", ""), data.where("id_column")};
        if (schema.id.name.empty()) data.fail("id_column", "the column name is empty");
    }
    std::string missing = data.choice("missing", "error", {"error", "impute_mean"});
    schema.missing = missing == "impute_mean" ? MissingPolicy::kImputeMean : MissingPolicy::kError;
    if (data.has("max_rows")) schema.max_rows = data.integer_in("max_rows", 1, 1, LONG_MAX);
}

void require_keys(const ConfigNode& data, std::initializer_list<const char*> keys) {
    for (const char* key : keys) {
        if (!data.has(key)) data.fail(key, "required key is missing for source \"csv\"");
    }
}
}  // namespace

DataSchema parse_data_schema(const ConfigNode& data, const std::string& path_override) {
    if (!data.is_object()) data.fail("", "expected the \"data\" object");
    std::string source = data.choice("source", "csv", {"csv", "criteo", "synthetic"});

    DataSchema schema;
    if (source == "synthetic") {
        data.allow_only({"source", "synthetic", "split"});
        schema.source = DataSourceKind::kSynthetic;
        if (!data.has("synthetic")) data.fail("synthetic", "required key is missing");
        schema.synthetic = object_child(data, "synthetic").json();
        if (!path_override.empty()) {
            data.fail("source", "the synthetic source reads no file, but a data path was given: " +
                                    path_override);
        }
    } else {
        data.allow_only({"source", "path", "treatment", "value", "cost", "aux", "features",
                         "propensity", "id_column", "missing", "split", "max_rows"});
        if (source == "criteo") {
            schema = criteo_preset();
        } else {
            require_keys(data, {"treatment", "value", "cost", "features"});
        }
        parse_table_keys(data, schema);
        if (!path_override.empty()) schema.path = path_override;
        if (schema.path.empty())
            data.fail("path", "no data file: set data.path or give one on the command line");
        check_arm_costs(data, schema);
        check_roles(data, schema);
    }
    schema.origin = data.origin();
    if (data.has("split")) parse_split(data, schema.split);
    return schema;
}

const char* to_string(DataSourceKind kind) {
    switch (kind) {
        case DataSourceKind::kCriteo:
            return "criteo";
        case DataSourceKind::kSynthetic:
            return "synthetic";
        default:
            return "csv";
    }
}

const char* to_string(FeatureType type) {
    switch (type) {
        case FeatureType::kBinary:
            return "binary";
        case FeatureType::kCategorical:
            return "categorical";
        default:
            return "numeric";
    }
}

const char* to_string(CategoricalEncoding encoding) {
    return encoding == CategoricalEncoding::kOrdinal ? "ordinal" : "onehot";
}

namespace {
nlohmann::json features_to_json(const std::vector<FeatureSpec>& features) {
    nlohmann::json list = nlohmann::json::array();
    for (const FeatureSpec& feature : features) {
        nlohmann::json item = {{"column", feature.column.name}, {"type", to_string(feature.type)}};
        if (feature.type == FeatureType::kCategorical)
            item["encoding"] = to_string(feature.encoding);
        list.push_back(item);
    }
    return list;
}

nlohmann::json table_keys_to_json(const DataSchema& schema) {
    nlohmann::json data;
    data["path"] = schema.path;
    data["treatment"] = {{"column", schema.treatment.name}, {"arms", schema.arm_labels}};
    data["value"] = {{"column", schema.value.name}};
    if (schema.cost_from_column()) {
        data["cost"] = {{"column", schema.cost.name}};
    } else {
        data["cost"] = {{"per_arm", schema.cost_per_arm}};
    }
    data["aux"] = nlohmann::json::array();
    for (const AuxSpec& aux : schema.aux) {
        nlohmann::json item = {{"column", aux.column.name}};
        if (!aux.required) item["optional"] = true;
        data["aux"].push_back(item);
    }
    data["features"] = features_to_json(schema.features);
    if (schema.has_propensity()) {
        const PropensitySpec& spec = schema.propensity;
        data["propensity"] = {
            {"column", spec.column.name},
            {"invalid", spec.invalid == InvalidPropensity::kClip ? "clip" : "error"},
            {"clip", {spec.clip_low, spec.clip_high}}};
    }
    if (schema.has_id()) data["id_column"] = schema.id.name;
    data["missing"] = schema.missing == MissingPolicy::kImputeMean ? "impute_mean" : "error";
    if (schema.max_rows > 0) data["max_rows"] = schema.max_rows;
    return data;
}
}  // namespace

nlohmann::json data_schema_to_json(const DataSchema& schema) {
    nlohmann::json data;
    if (schema.source == DataSourceKind::kSynthetic) {
        data["synthetic"] = schema.synthetic;
    } else {
        data = table_keys_to_json(schema);
    }
    data["source"] = to_string(schema.source);
    data["split"] = {{"train", schema.split.train},
                     {"validation", schema.split.validation},
                     {"test", schema.split.test}};
    return data;
}

}  // namespace ca
