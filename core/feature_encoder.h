// FeatureEncoder: turns raw columns into the dense, standardised features every model reads.
// Fitted on the training rows only; stored in the serving policy file (JSON) and able to
// encode one raw row given as strings, so serving encodes exactly as training did.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/schema.h"
#include "core/table_loader.h"

namespace ca {

// How one raw column maps to encoded features.
//  numeric, binary: (v - mean) / scale, with mean and scale (population standard deviation,
//    1 when it is 0) from the non-missing training cells. A missing cell takes the mean (so
//    encodes as 0) when the encoder imputes.
//  categorical one-hot: one 0/1 feature per training level, in order of first appearance in the
//    training rows. A level never seen in training (or a missing cell) encodes as all zeros:
//    the row then looks like none of the known groups rather than like an arbitrary one.
//  categorical ordinal: the level's index among the sorted training levels, standardised like
//    a numeric column; an unseen level (or a missing cell) takes index -1 before standardising,
//    i.e. it sorts below every known level.
struct EncodedColumn {
    std::string name;
    FeatureType type = FeatureType::kNumeric;
    CategoricalEncoding encoding = CategoricalEncoding::kOneHot;
    double mean = 0;   ///< numeric, binary, ordinal: subtracted first; the imputed value
    double scale = 1;  ///< numeric, binary, ordinal: divides after the mean is subtracted
    std::vector<std::string> levels;  ///< categorical: one-hot order, or sorted for ordinal
    int offset = 0;                   ///< index of this column's first encoded feature
    int width = 1;                    ///< encoded features (levels for one-hot, else 1)

    bool one_hot() const {
        return type == FeatureType::kCategorical && encoding == CategoricalEncoding::kOneHot;
    }
    bool standardised() const { return !one_hot(); }
};

class FeatureEncoder {
  public:
    /// Learns levels, means and scales from train_rows of the table. With
    /// MissingPolicy::kImputeMean, missing cells (NaN, code -1) are filled as described above;
    /// otherwise the loader has already refused them.
    static FeatureEncoder fit(const RawTable& table, const std::vector<int64_t>& train_rows,
                              MissingPolicy missing);

    /// The listed rows of the table encoded, row-major (rows.size() x width()).
    std::vector<float> encode(const RawTable& table, const std::vector<int64_t>& rows) const;

    /// One raw row, one string per input column in columns() order, as a serving request
    /// carries it; writes width() floats. Throws InputError naming the column for an
    /// unparsable number, a binary value other than 0/1, or a missing value when the encoder
    /// does not impute.
    void encode_row(const std::vector<std::string>& raw, float* out) const;
    std::vector<float> encode_row(const std::vector<std::string>& raw) const;

    int width() const { return width_; }
    /// Encoded feature names: "recency", "zip_code=Urban", ...
    std::vector<std::string> feature_names() const;
    const std::vector<EncodedColumn>& columns() const { return columns_; }
    bool imputes_missing() const { return impute_missing_; }

    nlohmann::json to_json() const;
    /// Throws InputError naming the bad entry (a corrupt or hand-edited policy file).
    static FeatureEncoder from_json(const nlohmann::json& json);

  private:
    void finish_layout();
    int level_index(size_t column, const std::string& level) const;
    void encode_numeric(size_t column, const std::string& raw, float* out) const;
    void encode_categorical(size_t column, const std::string& raw, float* out) const;

    std::vector<EncodedColumn> columns_;
    bool impute_missing_ = false;
    int width_ = 0;
    /// Per column, level -> position in levels (built from columns_, not serialised).
    std::vector<std::unordered_map<std::string, int>> level_lookup_;
};

// nlohmann::json hooks, so a policy file can hold the encoder as a member.
void to_json(nlohmann::json& json, const FeatureEncoder& encoder);
void from_json(const nlohmann::json& json, FeatureEncoder& encoder);

}  // namespace ca
