// Feature encoder: standardisation and one-hot / ordinal codes checked by hand on tiny tables,
// unseen levels, imputation from training rows only, string rows, and the JSON round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/errors.h"
#include "core/feature_encoder.h"
#include "core/schema.h"
#include "core/table_loader.h"

namespace ca {
namespace {

RawFeature numeric(const std::string& name, std::vector<float> values,
                   FeatureType type = FeatureType::kNumeric) {
    RawFeature feature;
    feature.spec.column.name = name;
    feature.spec.type = type;
    feature.numbers = std::move(values);
    return feature;
}

RawFeature categorical(const std::string& name, std::vector<std::string> levels,
                       std::vector<int32_t> codes, CategoricalEncoding encoding) {
    RawFeature feature;
    feature.spec.column.name = name;
    feature.spec.type = FeatureType::kCategorical;
    feature.spec.encoding = encoding;
    feature.levels = std::move(levels);
    feature.codes = std::move(codes);
    return feature;
}

RawTable table_of(std::vector<RawFeature> features) {
    RawTable table;
    table.path = "memory.csv";
    table.n = static_cast<int64_t>(features[0].numbers.size() + features[0].codes.size());
    table.features = std::move(features);
    return table;
}

const std::vector<int64_t> kAllThree = {0, 1, 2};

void expect_floats(const std::vector<float>& actual, const std::vector<float>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
        EXPECT_NEAR(actual[i], expected[i], 1e-6) << "entry " << i;
}

std::string error_of(const FeatureEncoder& encoder, const std::vector<std::string>& raw) {
    try {
        encoder.encode_row(raw);
    } catch (const InputError& error) {
        return error.what();
    }
    return "no error";
}

TEST(Encoder, StandardisesByHandOnThreeRows) {
    // age 1, 2, 6: mean 3, population deviation sqrt(14/3) = 2.1602469.
    // flag 0, 1, 1: mean 2/3, deviation sqrt(2/9) = 0.4714045.
    // city B, A, B: one-hot in order of first appearance, so B first.
    RawTable table =
        table_of({numeric("age", {1, 2, 6}), numeric("flag", {0, 1, 1}, FeatureType::kBinary),
                  categorical("city", {"B", "A"}, {0, 1, 0}, CategoricalEncoding::kOneHot)});
    FeatureEncoder encoder = FeatureEncoder::fit(table, kAllThree, MissingPolicy::kError);
    EXPECT_EQ(encoder.width(), 4);
    EXPECT_EQ(encoder.feature_names(),
              (std::vector<std::string>{"age", "flag", "city=B", "city=A"}));
    expect_floats(encoder.encode(table, kAllThree), {-0.9258201f, -1.4142136f, 1, 0,  //
                                                     -0.4629100f, 0.7071068f, 0, 1,   //
                                                     1.3887301f, 0.7071068f, 1, 0});
}

TEST(Encoder, ConstantColumnKeepsScaleOne) {
    RawTable table = table_of({numeric("c", {5, 5, 5})});
    FeatureEncoder encoder = FeatureEncoder::fit(table, kAllThree, MissingPolicy::kError);
    EXPECT_EQ(encoder.columns()[0].scale, 1.0);
    expect_floats(encoder.encode(table, kAllThree), {0, 0, 0});
}

TEST(Encoder, StatisticsComeFromTrainingRowsOnly) {
    // Fitted on rows 0 and 1 only: mean 1.5, deviation 0.5; row 2 (value 6) is encoded with them.
    RawTable table = table_of({numeric("age", {1, 2, 6})});
    FeatureEncoder encoder = FeatureEncoder::fit(table, {0, 1}, MissingPolicy::kError);
    expect_floats(encoder.encode(table, {2}), {9.0f});
}

TEST(Encoder, UnseenLevelEncodesAsZerosOrBelowEveryOrdinal) {
    // Row 2 holds level "C", which the training rows 0 and 1 never show.
    RawTable table =
        table_of({categorical("hot", {"A", "B", "C"}, {0, 1, 2}, CategoricalEncoding::kOneHot),
                  categorical("ord", {"A", "B", "C"}, {0, 1, 2}, CategoricalEncoding::kOrdinal)});
    FeatureEncoder encoder = FeatureEncoder::fit(table, {0, 1}, MissingPolicy::kError);
    EXPECT_EQ(encoder.feature_names(), (std::vector<std::string>{"hot=A", "hot=B", "ord"}));
    // Ordinal train indices 0, 1: mean 0.5, deviation 0.5; unseen index -1 gives -3.
    expect_floats(encoder.encode(table, {0, 1, 2}), {1, 0, -1, 0, 1, 1, 0, 0, -3});
    expect_floats(encoder.encode_row({"C", "C"}), {0, 0, -3});
    expect_floats(encoder.encode_row({"never", "never"}), {0, 0, -3});
}

TEST(Encoder, OrdinalUsesSortedLevels) {
    // Levels b, c, a in file order sort to a, b, c: indices 1, 2, 0, mean 1, deviation
    // sqrt(2/3) = 0.8164966.
    RawTable table =
        table_of({categorical("o", {"b", "c", "a"}, {0, 1, 2}, CategoricalEncoding::kOrdinal)});
    FeatureEncoder encoder = FeatureEncoder::fit(table, kAllThree, MissingPolicy::kError);
    EXPECT_EQ(encoder.columns()[0].levels, (std::vector<std::string>{"a", "b", "c"}));
    expect_floats(encoder.encode(table, kAllThree), {0, 1.2247449f, -1.2247449f});
}

RawTable load_bc07_with_imputation() {
    const char* dir = std::getenv("CA_TEST_DATA");
    nlohmann::json data = {{"path", std::string(dir ? dir : "tests/data") + "/BC-07.csv"},
                           {"treatment", {{"column", "treatment"}, {"arms", {"0", "1"}}}},
                           {"value", {{"column", "conversion"}}},
                           {"cost", {{"column", "visit"}}},
                           {"features", {{{"column", "f0"}}, {{"column", "f1"}}}},
                           {"missing", "impute_mean"}};
    return load_table(parse_data_schema(ConfigNode::from_json(data, "test.json")));
}

TEST(Encoder, ImputesMissingCellsWithTrainingMeans) {
    RawTable table = load_bc07_with_imputation();
    std::vector<int64_t> all = {0, 1, 2, 3, 4, 5};
    FeatureEncoder encoder = FeatureEncoder::fit(table, all, MissingPolicy::kImputeMean);
    // The case's expected fill values: f0 = mean(1, 3, 5, 7), f1 = mean(2, 2, 4, 6).
    EXPECT_DOUBLE_EQ(encoder.columns()[0].mean, 4.0);
    EXPECT_DOUBLE_EQ(encoder.columns()[1].mean, 3.5);
    std::vector<float> x = encoder.encode(table, all);
    for (float v : x) EXPECT_TRUE(std::isfinite(v));
    // Missing cells (rows 1, 3: f0; rows 2, 4: f1) take the mean, so encode as 0.
    EXPECT_EQ(x[1 * 2 + 0], 0.0f);
    EXPECT_EQ(x[3 * 2 + 0], 0.0f);
    EXPECT_EQ(x[2 * 2 + 1], 0.0f);
    EXPECT_EQ(x[4 * 2 + 1], 0.0f);

    // With rows 0-2 as training rows, only their cells count: f0 mean(1, 3), f1 mean(2, 2).
    FeatureEncoder partial = FeatureEncoder::fit(table, {0, 1, 2}, MissingPolicy::kImputeMean);
    EXPECT_DOUBLE_EQ(partial.columns()[0].mean, 2.0);
    EXPECT_DOUBLE_EQ(partial.columns()[1].mean, 2.0);
    expect_floats(partial.encode_row({"NA", ""}), {0, 0});
}

TEST(Encoder, JsonRoundTripEncodesTheSame) {
    RawTable table =
        table_of({numeric("age", {1, 2, 6}), numeric("flag", {0, 1, 1}, FeatureType::kBinary),
                  categorical("city", {"B", "A"}, {0, 1, 0}, CategoricalEncoding::kOneHot),
                  categorical("size", {"m", "s", "l"}, {0, 1, 2}, CategoricalEncoding::kOrdinal)});
    FeatureEncoder encoder = FeatureEncoder::fit(table, kAllThree, MissingPolicy::kError);
    nlohmann::json stored = encoder;
    FeatureEncoder loaded = nlohmann::json::parse(stored.dump()).get<FeatureEncoder>();
    EXPECT_EQ(loaded.to_json(), stored);
    EXPECT_EQ(loaded.feature_names(), encoder.feature_names());
    std::vector<float> expected = encoder.encode(table, kAllThree);
    EXPECT_EQ(loaded.encode(table, kAllThree), expected);

    // The same rows given as strings, the way a serving request carries them.
    std::vector<std::vector<std::string>> raw = {
        {"1", "0", "B", "m"}, {"2", "1", "A", "s"}, {"6", "1", "B", "l"}};
    for (size_t r = 0; r < raw.size(); ++r) {
        std::vector<float> row = loaded.encode_row(raw[r]);
        std::vector<float> want(expected.begin() + r * 5, expected.begin() + (r + 1) * 5);
        EXPECT_EQ(row, want) << "row " << r;
    }
}

TEST(Encoder, RowRejectsBadValuesNamingTheColumn) {
    RawTable table =
        table_of({numeric("age", {1, 2, 6}), numeric("flag", {0, 1, 1}, FeatureType::kBinary)});
    FeatureEncoder encoder = FeatureEncoder::fit(table, kAllThree, MissingPolicy::kError);
    EXPECT_NE(error_of(encoder, {"1"}).find("expected 2 raw feature values (age, flag), got 1"),
              std::string::npos);
    EXPECT_NE(error_of(encoder, {"x1", "0"}).find("feature 'age': cannot parse \"x1\""),
              std::string::npos);
    EXPECT_NE(error_of(encoder, {"1", "2"}).find("binary feature 'flag' got \"2\""),
              std::string::npos);
    EXPECT_NE(error_of(encoder, {"NA", "1"}).find("feature 'age': missing value"),
              std::string::npos);
}

TEST(Encoder, CorruptJsonIsAnInputErrorNamingTheEntry) {
    auto error_from = [](const nlohmann::json& json) -> std::string {
        try {
            FeatureEncoder::from_json(json);
        } catch (const InputError& error) {
            return error.what();
        }
        return "no error";
    };
    nlohmann::json good = {
        {"missing", "error"},
        {"columns", {{{"name", "age"}, {"type", "numeric"}, {"mean", 1.0}, {"scale", 2.0}}}}};
    EXPECT_EQ(error_from(good), "no error");
    nlohmann::json bad_type = good;
    bad_type["columns"][0]["type"] = "float";
    EXPECT_NE(error_from(bad_type).find("feature encoder: columns[0].type"), std::string::npos);
    nlohmann::json bad_scale = good;
    bad_scale["columns"][0]["scale"] = 0.0;
    EXPECT_NE(error_from(bad_scale).find("feature encoder: columns[0]"), std::string::npos);
    nlohmann::json no_mean = good;
    no_mean["columns"][0].erase("mean");
    EXPECT_NE(error_from(no_mean).find("feature encoder: columns[0]"), std::string::npos);
    EXPECT_NE(error_from(nlohmann::json::object()).find("feature encoder"), std::string::npos);
}

}  // namespace
}  // namespace ca
