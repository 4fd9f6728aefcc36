// Data schema parsing and the table loader: the fault cases BC-04, BC-07, BC-09, BC-10, BC-11,
// BC-16 from ../shared/cases (copies in tests/data), and every kind of bad input it refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/errors.h"
#include "core/schema.h"
#include "core/table_loader.h"

namespace ca {
namespace {

using nlohmann::json;

std::string test_data(const std::string& name) {
    const char* dir = std::getenv("CA_TEST_DATA");
    return std::string(dir ? dir : "tests/data") + "/" + name;
}

std::string write_temp(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

// Criteo-style binary framing of the small cases: value conversion, cost visit.
json binary_data(const std::string& path, const std::vector<std::string>& features) {
    json list = json::array();
    for (const std::string& name : features) list.push_back({{"column", name}});
    return {{"path", path},
            {"treatment", {{"column", "treatment"}, {"arms", {"0", "1"}}}},
            {"value", {{"column", "conversion"}}},
            {"cost", {{"column", "visit"}}},
            {"features", list}};
}

json hillstrom_data(const std::string& path) {
    return {{"path", path},
            {"treatment",
             {{"column", "segment"}, {"arms", {"No E-Mail", "Mens E-Mail", "Womens E-Mail"}}}},
            {"value", {{"column", "spend"}}},
            {"cost", {{"per_arm", {0, 1, 1}}}},
            {"aux", {{{"column", "visit"}}, {{"column", "conversion"}}}},
            {"features",
             {{{"column", "recency"}},
              {{"column", "history"}},
              {{"column", "history_segment"}, {"type", "categorical"}},
              {{"column", "mens"}, {"type", "binary"}},
              {{"column", "womens"}, {"type", "binary"}},
              {{"column", "zip_code"}, {"type", "categorical"}},
              {{"column", "newbie"}, {"type", "binary"}},
              {{"column", "channel"}, {"type", "categorical"}}}}};
}

DataSchema schema_of(const json& data) {
    return parse_data_schema(ConfigNode::from_json(data, "test.json"));
}

RawTable load(const json& data) { return load_table(schema_of(data)); }

// The loader's error message, or "no error".
std::string load_error(const json& data) {
    try {
        load(data);
    } catch (const InputError& error) {
        return error.what();
    }
    return "no error";
}

std::string config_error(const json& data) {
    try {
        schema_of(data);
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "no error";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

double arm_mean(const std::vector<float>& column, const RawTable& table, int arm) {
    double sum = 0;
    int count = 0;
    for (int64_t i = 0; i < table.n; ++i) {
        if (table.arm[i] != arm) continue;
        sum += column[i];
        ++count;
    }
    return sum / count;
}

// The summary BC-09 compares between its two files.
std::string binary_summary(const RawTable& table) {
    std::vector<int64_t> counts = table.arm_counts();
    char text[200];
    std::snprintf(text, sizeof(text), "N=%lld N_T=%lld N_C=%lld conv %.3f/%.3f visit %.3f/%.3f",
                  (long long)table.n, (long long)counts[1], (long long)counts[0],
                  arm_mean(table.value, table, 1), arm_mean(table.value, table, 0),
                  arm_mean(table.cost, table, 1), arm_mean(table.cost, table, 0));
    return text;
}

// ---- schema

TEST(Schema, UnknownKeyIsAnErrorNamingIt) {
    json data = binary_data("x.csv", {"f0"});
    data["featuers"] = json::array();
    std::string message = config_error(data);
    EXPECT_TRUE(contains(message, "test.json: featuers")) << message;
}

TEST(Schema, CostNeedsExactlyOneForm) {
    json data = binary_data("x.csv", {"f0"});
    data["cost"] = {{"column", "visit"}, {"per_arm", {0, 1}}};
    EXPECT_TRUE(contains(config_error(data), "cost: give exactly one"));
    data["cost"] = {{"per_arm", {0, 1, 1}}};
    std::string message = config_error(data);
    EXPECT_TRUE(contains(message, "cost.per_arm: has 3 entries but there are 2 arms")) << message;
    data["cost"] = {{"per_arm", {0.5, 1}}};
    EXPECT_TRUE(contains(config_error(data), "cost.per_arm[0]: arm 0 is control"));
}

TEST(Schema, SplitMustSumToOne) {
    json data = binary_data("x.csv", {"f0"});
    data["split"] = {{"train", 0.6}, {"validation", 0.1}, {"test", 0.2}};
    std::string message = config_error(data);
    EXPECT_TRUE(contains(message, "split: train + validation + test must be 1")) << message;
}

TEST(Schema, FeatureCannotBeAnOutcome) {
    std::string message = config_error(binary_data("x.csv", {"f0", "conversion"}));
    EXPECT_TRUE(contains(message, "features[1].column")) << message;
    EXPECT_TRUE(contains(message, "value column")) << message;
}

TEST(Schema, EncodingOnlyForCategorical) {
    json data = binary_data("x.csv", {"f0"});
    data["features"][0]["encoding"] = "ordinal";
    EXPECT_TRUE(contains(config_error(data), "features[0].encoding"));
}

TEST(Schema, CriteoPresetNeedsOnlyAPath) {
    DataSchema schema = schema_of({{"source", "criteo"}, {"path", "c.csv"}});
    EXPECT_EQ(schema.treatment.name, "treatment");
    EXPECT_EQ(schema.arm_labels, (std::vector<std::string>{"0", "1"}));
    EXPECT_EQ(schema.value.name, "conversion");
    EXPECT_EQ(schema.cost.name, "visit");
    ASSERT_EQ(schema.features.size(), 12u);
    EXPECT_EQ(schema.features[11].column.name, "f11");
    ASSERT_EQ(schema.aux.size(), 1u);
    EXPECT_FALSE(schema.aux[0].required);
    EXPECT_TRUE(contains(config_error({{"source", "criteo"}}), "data.path"));
}

TEST(Schema, PathOverrideReplacesThePath) {
    ConfigNode node = ConfigNode::from_json(binary_data("config.csv", {"f0"}), "test.json");
    EXPECT_EQ(parse_data_schema(node, "cli.csv").path, "cli.csv");
    EXPECT_EQ(parse_data_schema(node).path, "config.csv");
}

TEST(Schema, RoundTripsThroughJson) {
    json data = hillstrom_data("h.csv");
    data["propensity"] = {{"column", "p"}, {"invalid", "clip"}, {"clip", {0.05, 0.95}}};
    data["missing"] = "impute_mean";
    data["max_rows"] = 10;
    DataSchema schema = schema_of(data);
    json written = data_schema_to_json(schema);
    EXPECT_EQ(data_schema_to_json(schema_of(written)), written);
    EXPECT_EQ(written["propensity"]["clip"][1], 0.95);
    EXPECT_EQ(written["features"][2]["encoding"], "onehot");
}

// ---- loader: the fault cases

TEST(Loader, CrlfAndLfFilesGiveIdenticalSummaries) {
    RawTable crlf = load(binary_data(test_data("BC-09.csv"), {"f0", "f1"}));
    RawTable lf = load(binary_data(test_data("BC-09-lf.csv"), {"f0", "f1"}));
    EXPECT_EQ(binary_summary(crlf), binary_summary(lf));
    EXPECT_EQ(binary_summary(crlf), "N=4 N_T=2 N_C=2 conv 0.500/0.500 visit 0.500/1.000");
    EXPECT_EQ(crlf.source_line, (std::vector<int64_t>{2, 3, 4, 5}));
}

TEST(BadInput, HeaderOnlyFilesHaveNoDataRows) {
    for (const char* name : {"BC-10.csv", "BC-10-nonl.csv", "BC-10-blank.csv"}) {
        std::string message = load_error(binary_data(test_data(name), {"f0", "f1"}));
        EXPECT_TRUE(contains(message, std::string("no data rows in ") + name)) << message;
        EXPECT_TRUE(contains(message, test_data(name) + ":1:")) << message;
    }
}

TEST(BadInput, EmptyFileNeedsAHeader) {
    std::string message = load_error(binary_data(write_temp("empty.csv", ""), {"f0"}));
    EXPECT_TRUE(contains(message, "empty.csv: the file is empty")) << message;
}

TEST(Loader, HillstromQuotedCommasAndArmMeans) {
    RawTable table = load(hillstrom_data(test_data("BC-11.csv")));
    ASSERT_EQ(table.n, 6);
    EXPECT_EQ(table.arm_counts(), (std::vector<int64_t>{2, 2, 2}));
    ASSERT_EQ(table.aux_names, (std::vector<std::string>{"visit", "conversion"}));
    // Per-arm means (visit / conversion / spend) from the case description.
    double expected[3][3] = {{0.5, 0.0, 0.0}, {0.5, 0.5, 22.5}, {1.0, 0.5, 60.0}};
    for (int arm = 0; arm < 3; ++arm) {
        EXPECT_NEAR(arm_mean(table.aux[0], table, arm), expected[arm][0], 1e-6) << arm;
        EXPECT_NEAR(arm_mean(table.aux[1], table, arm), expected[arm][1], 1e-6) << arm;
        EXPECT_NEAR(arm_mean(table.value, table, arm), expected[arm][2], 1e-6) << arm;
    }
    // Cost one unit per e-mail, none for control.
    for (int64_t i = 0; i < table.n; ++i) EXPECT_EQ(table.cost[i], table.arm[i] == 0 ? 0 : 1);
    const RawFeature& segment = table.features[2];
    EXPECT_EQ(segment.levels[0], "6) $750 - $1,000");
    EXPECT_EQ(segment.levels.size(), 5u);
    const RawFeature& zip = table.features[5];
    EXPECT_EQ(zip.levels, (std::vector<std::string>{"Surburban", "Urban", "Rural"}));
}

TEST(BadInput, UnknownTreatmentLabelNamesLabelLineAndColumn) {
    std::string message = load_error(hillstrom_data(test_data("BC-11-badlabel.csv")));
    EXPECT_TRUE(contains(message, "BC-11-badlabel.csv:5:9:")) << message;
    EXPECT_TRUE(contains(message, "\"Women E-Mail\"")) << message;
    EXPECT_TRUE(contains(message, "'segment'")) << message;
    EXPECT_TRUE(contains(message, "\"Womens E-Mail\"")) << message;
}

TEST(BadInput, SingleTreatmentLevelNeedsControlRows) {
    json data = binary_data(test_data("BC-16.csv"), {"f0", "f1", "f2"});
    std::string message = load_error(data);
    EXPECT_TRUE(contains(message, "BC-16.csv")) << message;
    EXPECT_TRUE(contains(message, "treatment has one level {1}; control (0) rows are required"))
        << message;
}

TEST(BadInput, ConfiguredArmAbsentFromDataIsNamed) {
    json data = binary_data(test_data("BC-09-lf.csv"), {"f0", "f1"});
    data["treatment"]["arms"] = {"0", "1", "2"};
    std::string message = load_error(data);
    EXPECT_TRUE(contains(message, "BC-09-lf.csv: configured arm \"2\" has no rows")) << message;
}

json propensity_data(const std::string& invalid) {
    json data = binary_data(test_data("BC-04.csv"), {"f0"});
    data["propensity"] = {{"column", "propensity"}, {"invalid", invalid}};
    return data;
}

TEST(BadInput, PropensityOfZeroOrOneNamesEveryBadLine) {
    std::string message = load_error(propensity_data("error"));
    EXPECT_TRUE(contains(message, "BC-04.csv:4:5:")) << message;
    EXPECT_TRUE(contains(message, "lines 4 (0.0), 6 (1.0)")) << message;
    EXPECT_TRUE(contains(message, "'propensity'")) << message;
}

TEST(Loader, ClippedPropensitiesAreTheLoggedArmsProbabilities) {
    RawTable table = load(propensity_data("clip"));
    // Treated rows keep p (clipped into [0.01, 0.99]); control rows get 1 - p.
    std::vector<double> expected = {0.5, 0.5, 0.01, 0.5, 0.99, 0.5};
    ASSERT_EQ(table.propensity.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
        EXPECT_NEAR(table.propensity[i], expected[i], 1e-12) << "row " << i;
    EXPECT_EQ(table.propensity_clipped, 2);
    // The case's treat-all EOM, (1/0.5 + 0/0.01 + 1/0.99) / 6, from the stored weights.
    double eom = 0;
    for (int64_t i = 0; i < table.n; ++i)
        if (table.arm[i] == 1) eom += table.value[i] / table.propensity[i];
    EXPECT_NEAR(eom / table.n, 0.501684, 1e-6);
}

TEST(BadInput, MissingFeatureCellsAreListedByLineAndColumn) {
    std::string message = load_error(binary_data(test_data("BC-07.csv"), {"f0", "f1"}));
    EXPECT_TRUE(contains(message, "BC-07.csv:3:1: 4 missing or non-finite feature cells"))
        << message;
    EXPECT_TRUE(contains(message,
                         "3:1 (f0 \"NaN\"), 4:2 (f1 \"\"), 5:1 (f0 \"nan\"), "
                         "6:2 (f1 \"NA\")"))
        << message;
    EXPECT_TRUE(contains(message, "impute_mean")) << message;
}

TEST(Loader, MissingFeatureCellsAreKeptForImputation) {
    json data = binary_data(test_data("BC-07.csv"), {"f0", "f1"});
    data["missing"] = "impute_mean";
    RawTable table = load(data);
    EXPECT_EQ(table.features[0].missing, 2);
    EXPECT_EQ(table.features[1].missing, 2);
    EXPECT_TRUE(std::isnan(table.features[0].numbers[1]));
    EXPECT_TRUE(std::isnan(table.features[1].numbers[2]));
    EXPECT_EQ(table.features[0].numbers[4], 5.0f);
}

TEST(BadInput, MissingOutcomeIsRefusedEvenWithImputation) {
    std::string path = write_temp("missing_outcome.csv",
                                  "f0,treatment,conversion,visit\n"
                                  "1,1,1,1\n2,0,NA,0\n");
    json data = binary_data(path, {"f0"});
    data["missing"] = "impute_mean";
    std::string message = load_error(data);
    EXPECT_TRUE(contains(message, "missing_outcome.csv:3:3: column 'conversion'")) << message;
}

// ---- loader: other malformed input

TEST(BadInput, RaggedRowsSayExpectedAndFound) {
    std::string path = write_temp("ragged.csv",
                                  "f0,treatment,conversion,visit\n1,1,1,1\n"
                                  "2,0,1\n");
    std::string message = load_error(binary_data(path, {"f0"}));
    EXPECT_TRUE(contains(message, "ragged.csv:3:4: expected 4 fields as in the header, found 3"))
        << message;
    EXPECT_TRUE(contains(message, "'visit'")) << message;

    path = write_temp("ragged_long.csv", "f0,treatment,conversion,visit\n1,1,1,1,9\n");
    message = load_error(binary_data(path, {"f0"}));
    EXPECT_TRUE(contains(message,
                         "ragged_long.csv:2:5: expected 4 fields as in the header, "
                         "found 5"))
        << message;
}

TEST(BadInput, ColumnMissingFromHeaderIsNamedWithTheHeader) {
    std::string path = write_temp("no_visit.csv", "f0,treatment,conversion\n1,1,1\n");
    std::string message = load_error(binary_data(path, {"f0"}));
    EXPECT_TRUE(contains(message, "no_visit.csv:1: column 'visit' (test.json: cost.column)"))
        << message;
    EXPECT_TRUE(contains(message, "\"f0\", \"treatment\", \"conversion\"")) << message;
}

TEST(BadInput, UnparsableNumberNamesCellAndColumn) {
    std::string path = write_temp("text_number.csv",
                                  "f0,treatment,conversion,visit\n"
                                  "1,0,1,1\n1.5x,1,0,1\n");
    std::string message = load_error(binary_data(path, {"f0"}));
    EXPECT_TRUE(contains(message, "text_number.csv:3:1: column 'f0': cannot parse \"1.5x\""))
        << message;
}

TEST(BadInput, InfiniteFeatureCountsAsMissing) {
    std::string path = write_temp("infinite.csv",
                                  "f0,treatment,conversion,visit\n"
                                  "1,0,1,1\ninf,1,0,1\n1e999,1,0,1\n");
    std::string message = load_error(binary_data(path, {"f0"}));
    EXPECT_TRUE(contains(message, "infinite.csv:3:1: 2 missing or non-finite")) << message;
}

TEST(BadInput, NegativeCostNamesCell) {
    std::string path = write_temp("negative_cost.csv",
                                  "f0,treatment,conversion,visit\n"
                                  "1,0,1,1\n2,1,0,-1\n");
    std::string message = load_error(binary_data(path, {"f0"}));
    EXPECT_TRUE(contains(message, "negative_cost.csv:3:4: column 'visit': negative cost -1"))
        << message;
}

TEST(BadInput, BinaryFeatureMustBeZeroOrOne) {
    std::string path = write_temp("binary.csv",
                                  "f0,treatment,conversion,visit\n"
                                  "1,0,1,1\n2,1,0,1\n");
    json data = binary_data(path, {"f0"});
    data["features"][0]["type"] = "binary";
    std::string message = load_error(data);
    EXPECT_TRUE(contains(message, "binary.csv:3:1: column 'f0': binary feature holds \"2\""))
        << message;
}

TEST(BadInput, DuplicateHeaderColumnIsAmbiguous) {
    std::string path = write_temp("dup.csv", "f0,treatment,f0,conversion,visit\n1,0,2,1,1\n");
    std::string message = load_error(binary_data(path, {"f0"}));
    EXPECT_TRUE(contains(message, "dup.csv:1:3: column 'f0' appears twice")) << message;
}

TEST(BadInput, IdColumnMustHoldIntegers) {
    std::string path = write_temp("ids.csv",
                                  "uid,f0,treatment,conversion,visit\n"
                                  "17,1,0,1,1\nabc,2,1,0,1\n");
    json data = binary_data(path, {"f0"});
    data["id_column"] = "uid";
    std::string message = load_error(data);
    EXPECT_TRUE(contains(message, "ids.csv:3:1: column 'uid'")) << message;
}

TEST(Loader, IdColumnAndMaxRows) {
    std::string path = write_temp("ids_ok.csv",
                                  "uid,f0,treatment,conversion,visit\n"
                                  "17,1,0,1,1\n-4,2,1,0,1\n99,3,1,0,1\n");
    json data = binary_data(path, {"f0"});
    data["id_column"] = "uid";
    RawTable table = load(data);
    EXPECT_EQ(table.user_id, (std::vector<int64_t>{17, -4, 99}));
    EXPECT_FALSE(table.truncated);
    data["max_rows"] = 2;
    table = load(data);
    EXPECT_EQ(table.n, 2);
    EXPECT_TRUE(table.truncated);
}

}  // namespace
}  // namespace ca
