// Fitting the encoder on training rows, encoding tables and single string rows, and JSON I/O.
#include "core/feature_encoder.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace ca {

namespace {
// Population mean and standard deviation of the non-NaN values; two passes for accuracy on
// large columns. Returns false when every value is missing.
template <typename ValueAt>
bool fit_mean_and_scale(const std::vector<int64_t>& rows, ValueAt value_at, EncodedColumn& column) {
    double sum = 0;
    int64_t count = 0;
    for (int64_t r : rows) {
        double v = value_at(r);
        if (std::isnan(v)) continue;
        sum += v;
        ++count;
    }
    if (count == 0) return false;
    double mean = sum / double(count);
    double squares = 0;
    for (int64_t r : rows) {
        double v = value_at(r);
        if (!std::isnan(v)) squares += (v - mean) * (v - mean);
    }
    double deviation = std::sqrt(squares / double(count));
    column.mean = mean;
    // A constant column carries no information; scale 1 keeps it at 0 instead of dividing by 0.
    column.scale = deviation > 0 ? deviation : 1.0;
    return true;
}

// Table codes of the levels present in rows, in order of first appearance.
std::vector<int32_t> levels_in_order(const RawFeature& feature, const std::vector<int64_t>& rows) {
    std::vector<char> seen(feature.levels.size(), 0);
    std::vector<int32_t> order;
    for (int64_t r : rows) {
        int32_t code = feature.codes[r];
        if (code < 0 || seen[code]) continue;
        seen[code] = 1;
        order.push_back(code);
    }
    return order;
}

EncodedColumn fit_column(const RawTable& table, const RawFeature& feature,
                         const std::vector<int64_t>& rows) {
    EncodedColumn column;
    column.name = feature.name();
    column.type = feature.spec.type;
    column.encoding = feature.spec.encoding;
    bool fitted = true;
    if (!feature.categorical()) {
        auto value_at = [&](int64_t r) { return double(feature.numbers[r]); };
        fitted = fit_mean_and_scale(rows, value_at, column);
    } else {
        for (int32_t code : levels_in_order(feature, rows))
            column.levels.push_back(feature.levels[code]);
        if (column.encoding == CategoricalEncoding::kOrdinal) {
            std::sort(column.levels.begin(), column.levels.end());
            std::unordered_map<std::string, double> sorted_index;
            for (size_t k = 0; k < column.levels.size(); ++k)
                sorted_index.emplace(column.levels[k], double(k));
            std::vector<double> index_of_code(feature.levels.size(), NAN);
            for (size_t code = 0; code < feature.levels.size(); ++code) {
                auto it = sorted_index.find(feature.levels[code]);
                if (it != sorted_index.end()) index_of_code[code] = it->second;
            }
            auto value_at = [&](int64_t r) {
                int32_t code = feature.codes[r];
                return code < 0 ? double(NAN) : index_of_code[code];
            };
            fitted = fit_mean_and_scale(rows, value_at, column);
        }
    }
    if (!fitted) {
        CA_THROW(InputError, table.path << ": column '" << column.name << "' has no value in the "
                                        << rows.size() << " training rows; it cannot be "
                                        << "standardised or imputed");
    }
    return column;
}

float standardise(const EncodedColumn& column, double v) {
    return static_cast<float>((v - column.mean) / column.scale);
}
}  // namespace

FeatureEncoder FeatureEncoder::fit(const RawTable& table, const std::vector<int64_t>& train_rows,
                                   MissingPolicy missing) {
    CA_ASSERT_MSG(!train_rows.empty(), "the encoder needs training rows");
    FeatureEncoder encoder;
    encoder.impute_missing_ = missing == MissingPolicy::kImputeMean;
    for (const RawFeature& feature : table.features)
        encoder.columns_.push_back(fit_column(table, feature, train_rows));
    encoder.finish_layout();
    return encoder;
}

void FeatureEncoder::finish_layout() {
    width_ = 0;
    level_lookup_.assign(columns_.size(), {});
    for (size_t c = 0; c < columns_.size(); ++c) {
        EncodedColumn& column = columns_[c];
        column.offset = width_;
        column.width = column.one_hot() ? static_cast<int>(column.levels.size()) : 1;
        width_ += column.width;
        for (size_t k = 0; k < column.levels.size(); ++k)
            level_lookup_[c].emplace(column.levels[k], static_cast<int>(k));
    }
}

int FeatureEncoder::level_index(size_t column, const std::string& level) const {
    auto it = level_lookup_[column].find(level);
    return it == level_lookup_[column].end() ? -1 : it->second;
}

std::vector<std::string> FeatureEncoder::feature_names() const {
    std::vector<std::string> names;
    for (const EncodedColumn& column : columns_) {
        if (!column.one_hot()) {
            names.push_back(column.name);
            continue;
        }
        for (const std::string& level : column.levels) names.push_back(column.name + "=" + level);
    }
    return names;
}

std::vector<float> FeatureEncoder::encode(const RawTable& table,
                                          const std::vector<int64_t>& rows) const {
    CA_ASSERT_MSG(table.features.size() == columns_.size(),
                  table.features.size() << " raw columns for an encoder of " << columns_.size());
    std::vector<float> out(rows.size() * size_t(width_), 0.0f);
    for (size_t c = 0; c < columns_.size(); ++c) {
        const EncodedColumn& column = columns_[c];
        const RawFeature& feature = table.features[c];
        CA_ASSERT(feature.name() == column.name);
        if (!feature.categorical()) {
            for (size_t i = 0; i < rows.size(); ++i) {
                double v = feature.numbers[rows[i]];
                out[i * width_ + column.offset] =
                    standardise(column, std::isnan(v) ? column.mean : v);
            }
            continue;
        }
        // Table codes differ from encoder positions: map each table level once.
        std::vector<int> position(feature.levels.size());
        for (size_t k = 0; k < feature.levels.size(); ++k)
            position[k] = level_index(c, feature.levels[k]);
        for (size_t i = 0; i < rows.size(); ++i) {
            int32_t code = feature.codes[rows[i]];
            int level = code < 0 ? -1 : position[code];
            if (!column.one_hot()) {
                out[i * width_ + column.offset] = standardise(column, level);
            } else if (level >= 0) {
                out[i * width_ + column.offset + level] = 1.0f;
            }
        }
    }
    return out;
}

void FeatureEncoder::encode_numeric(size_t c, const std::string& raw, float* out) const {
    const EncodedColumn& column = columns_[c];
    double v = 0;
    Cell cell = parse_number(raw, v);
    if (cell == Cell::kUnparsable)
        CA_THROW(InputError,
                 "feature '" << column.name << "': cannot parse \"" << raw << "\" as a number");
    if (cell == Cell::kMissing) {
        if (!impute_missing_) {
            CA_THROW(InputError, "feature '" << column.name << "': missing value \"" << raw
                                             << "\", and this encoder was fitted without "
                                             << "imputation (data.missing = \"error\")");
        }
        v = column.mean;
    } else if (column.type == FeatureType::kBinary && v != 0 && v != 1) {
        CA_THROW(InputError,
                 "binary feature '" << column.name << "' got \"" << raw << "\"; expected 0 or 1");
    }
    out[column.offset] = standardise(column, v);
}

void FeatureEncoder::encode_categorical(size_t c, const std::string& raw, float* out) const {
    const EncodedColumn& column = columns_[c];
    if (is_missing_token(raw) && !impute_missing_) {
        CA_THROW(InputError, "feature '" << column.name << "': missing value \"" << raw
                                         << "\", and this encoder was fitted without "
                                         << "imputation (data.missing = \"error\")");
    }
    int level = is_missing_token(raw) ? -1 : level_index(c, raw);
    if (!column.one_hot()) {
        out[column.offset] = standardise(column, level);
        return;
    }
    std::fill(out + column.offset, out + column.offset + column.width, 0.0f);
    if (level >= 0) out[column.offset + level] = 1.0f;
}

void FeatureEncoder::encode_row(const std::vector<std::string>& raw, float* out) const {
    if (raw.size() != columns_.size()) {
        std::string names;
        for (const EncodedColumn& column : columns_)
            names += (names.empty() ? "" : ", ") + column.name;
        CA_THROW(InputError, "expected " << columns_.size() << " raw feature values (" << names
                                         << "), got " << raw.size());
    }
    for (size_t c = 0; c < columns_.size(); ++c) {
        if (columns_[c].type == FeatureType::kCategorical) {
            encode_categorical(c, raw[c], out);
        } else {
            encode_numeric(c, raw[c], out);
        }
    }
}

std::vector<float> FeatureEncoder::encode_row(const std::vector<std::string>& raw) const {
    std::vector<float> out(width_, 0.0f);
    encode_row(raw, out.data());
    return out;
}

nlohmann::json FeatureEncoder::to_json() const {
    nlohmann::json list = nlohmann::json::array();
    for (const EncodedColumn& column : columns_) {
        nlohmann::json item = {{"name", column.name}, {"type", ca::to_string(column.type)}};
        if (column.type == FeatureType::kCategorical) {
            item["encoding"] = ca::to_string(column.encoding);
            item["levels"] = column.levels;
        }
        if (column.standardised()) {
            item["mean"] = column.mean;
            item["scale"] = column.scale;
        }
        list.push_back(item);
    }
    return {{"missing", impute_missing_ ? "impute_mean" : "error"}, {"columns", list}};
}

namespace {
[[noreturn]] void corrupt(const std::string& where, const std::string& message) {
    throw InputError("feature encoder: " + where + ": " + message);
}

FeatureType type_from_json(const nlohmann::json& item, const std::string& where) {
    std::string type = item.at("type").get<std::string>();
    if (type == "numeric") return FeatureType::kNumeric;
    if (type == "binary") return FeatureType::kBinary;
    if (type == "categorical") return FeatureType::kCategorical;
    corrupt(where + ".type", "unknown type \"" + type +
                                 "\"; expected numeric, binary or "
                                 "categorical");
}

EncodedColumn column_from_json(const nlohmann::json& item, const std::string& where) {
    EncodedColumn column;
    column.name = item.at("name").get<std::string>();
    column.type = type_from_json(item, where);
    if (column.type == FeatureType::kCategorical) {
        std::string encoding = item.at("encoding").get<std::string>();
        if (encoding != "onehot" && encoding != "ordinal")
            corrupt(where + ".encoding", "unknown encoding \"" + encoding + "\"");
        column.encoding =
            encoding == "ordinal" ? CategoricalEncoding::kOrdinal : CategoricalEncoding::kOneHot;
        column.levels = item.at("levels").get<std::vector<std::string>>();
    }
    if (column.standardised()) {
        column.mean = item.at("mean").get<double>();
        column.scale = item.at("scale").get<double>();
        if (!std::isfinite(column.mean) || !(column.scale > 0) || !std::isfinite(column.scale))
            corrupt(where, "mean must be finite and scale finite and positive");
    }
    std::vector<std::string> sorted = column.levels;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
        corrupt(where + ".levels", "a level is listed twice");
    return column;
}
}  // namespace

FeatureEncoder FeatureEncoder::from_json(const nlohmann::json& json) {
    FeatureEncoder encoder;
    std::string where = "(top level)";
    try {
        std::string missing = json.at("missing").get<std::string>();
        if (missing != "error" && missing != "impute_mean")
            corrupt("missing", "unknown value \"" + missing + "\"");
        encoder.impute_missing_ = missing == "impute_mean";
        const nlohmann::json& list = json.at("columns");
        if (!list.is_array()) corrupt("columns", "expected an array");
        for (size_t c = 0; c < list.size(); ++c) {
            where = "columns[" + std::to_string(c) + "]";
            encoder.columns_.push_back(column_from_json(list[c], where));
        }
    } catch (const nlohmann::json::exception& error) {
        corrupt(where, error.what());
    }
    encoder.finish_layout();
    return encoder;
}

void to_json(nlohmann::json& json, const FeatureEncoder& encoder) { json = encoder.to_json(); }

void from_json(const nlohmann::json& json, FeatureEncoder& encoder) {
    encoder = FeatureEncoder::from_json(json);
}

}  // namespace ca
