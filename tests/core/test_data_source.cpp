// DataSource end to end: config -> table -> seeded split -> encoded Datasets, on the case files,
// on Criteo-schema files written here (plain and gzip), and on the shipped Hillstrom data.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/data_source.h"
#include "core/errors.h"
#include "core/synthetic_generator.h"

namespace ca {
namespace {

using nlohmann::json;

std::string test_data(const std::string& name) {
    const char* dir = std::getenv("CA_TEST_DATA");
    return std::string(dir ? dir : "tests/data") + "/" + name;
}

DataSource open_source(const json& data, const std::string& path_override = "") {
    return DataSource::open(ConfigNode::from_json({{"data", data}}, "test.json").child("data"),
                            path_override);
}

std::string open_error(const json& data) {
    try {
        open_source(data);
    } catch (const InputError& error) {
        return error.what();
    }
    return "no error";
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
              {{"column", "mens"}, {"type", "binary"}},
              {{"column", "zip_code"}, {"type", "categorical"}}}},
            {"split", {{"train", 1.0}, {"validation", 0.0}, {"test", 0.0}}}};
}

std::vector<int64_t> lines_of(const DataSplits& splits) {
    std::vector<int64_t> lines;
    for (const Dataset* part : {&splits.train, &splits.validation, &splits.test})
        lines.insert(lines.end(), part->source_line.begin(), part->source_line.end());
    std::sort(lines.begin(), lines.end());
    return lines;
}

TEST(DataSource, FillsEveryDatasetField) {
    DataSource source = open_source(hillstrom_data(test_data("BC-11.csv")));
    EXPECT_EQ(source.description(), "BC-11.csv: 6 rows, 3 arms");
    EXPECT_EQ(source.propensity_source(), "arm shares (no propensity column)");
    Dataset train = source.split(3).train;
    ASSERT_EQ(train.n, 6);
    EXPECT_EQ(train.m, 3);
    EXPECT_EQ(train.d, 5);
    EXPECT_EQ(train.x.size(), 30u);
    EXPECT_EQ(train.feature_names,
              (std::vector<std::string>{"recency", "mens", "zip_code=Surburban", "zip_code=Urban",
                                        "zip_code=Rural"}));
    EXPECT_EQ(train.arm_names,
              (std::vector<std::string>{"No E-Mail", "Mens E-Mail", "Womens E-Mail"}));
    EXPECT_EQ(train.arm, (std::vector<int32_t>{1, 2, 0, 2, 0, 1}));
    EXPECT_EQ(train.value, (std::vector<float>{45, 0, 0, 120, 0, 0}));
    EXPECT_EQ(train.cost, (std::vector<float>{1, 1, 0, 1, 0, 1}));
    EXPECT_EQ(train.aux_names, (std::vector<std::string>{"visit", "conversion"}));
    EXPECT_EQ(train.aux[0], (std::vector<float>{1, 1, 0, 1, 1, 0}));
    EXPECT_FALSE(train.value_is_binary);
    EXPECT_TRUE(train.cost_is_binary);
    EXPECT_TRUE(train.propensity.empty());
    EXPECT_EQ(train.user_id, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(train.source_line, (std::vector<int64_t>{2, 3, 4, 5, 6, 7}));
    // Row 0 is Surburban: the one-hot block is 1, 0, 0.
    EXPECT_EQ(train.x[2], 1.0f);
    EXPECT_EQ(train.x[3], 0.0f);
    EXPECT_EQ(train.x[4], 0.0f);
}

TEST(DataSource, SplitsCoverTheTableAndRepeatForASeed) {
    json data = hillstrom_data(test_data("BC-11.csv"));
    data["split"] = {{"train", 0.5}, {"validation", 0.0}, {"test", 0.5}};
    DataSource source = open_source(data);
    DataSplits first = source.split(11);
    EXPECT_EQ(first.train.n, 3);
    EXPECT_EQ(first.test.n, 3);
    EXPECT_EQ(lines_of(first), (std::vector<int64_t>{2, 3, 4, 5, 6, 7}));
    DataSplits again = source.split(11);
    EXPECT_EQ(again.train.x, first.train.x);
    EXPECT_EQ(again.test.source_line, first.test.source_line);
    EXPECT_EQ(again.encoder.to_json(), first.encoder.to_json());
}

TEST(DataSource, ClippedPropensityTravelsWithItsRows) {
    json data = {{"path", test_data("BC-04.csv")},
                 {"treatment", {{"column", "treatment"}, {"arms", {"0", "1"}}}},
                 {"value", {{"column", "conversion"}}},
                 {"cost", {{"column", "visit"}}},
                 {"features", {{{"column", "f0"}}}},
                 {"propensity", {{"column", "propensity"}, {"invalid", "clip"}}},
                 {"split", {{"train", 0.5}, {"validation", 0.0}, {"test", 0.5}}}};
    DataSource source = open_source(data);
    EXPECT_EQ(source.propensity_source(), "per-row column 'propensity', clipped into [0.01, 0.99]");
    // Logged-arm probabilities by file line, from the case: line 4 -> 0.01, line 6 -> 0.99.
    std::vector<double> by_line = {0, 0, 0.5, 0.5, 0.01, 0.5, 0.99, 0.5};
    DataSplits splits = source.split(2);
    for (const Dataset* part : {&splits.train, &splits.test}) {
        ASSERT_EQ(part->propensity.size(), size_t(part->n));
        for (int64_t i = 0; i < part->n; ++i)
            EXPECT_NEAR(part->propensity[i], by_line[part->source_line[i]], 1e-12);
    }
}

TEST(DataSource, ImputedCellsEncodeAsTheTrainingMean) {
    json data = {{"path", test_data("BC-07.csv")},
                 {"treatment", {{"column", "treatment"}, {"arms", {"0", "1"}}}},
                 {"value", {{"column", "conversion"}}},
                 {"cost", {{"column", "visit"}}},
                 {"features", {{{"column", "f0"}}, {{"column", "f1"}}}},
                 {"missing", "impute_mean"},
                 {"split", {{"train", 1.0}, {"validation", 0.0}, {"test", 0.0}}}};
    DataSplits splits = open_source(data).split(0);
    EXPECT_DOUBLE_EQ(splits.encoder.columns()[0].mean, 4.0);
    EXPECT_DOUBLE_EQ(splits.encoder.columns()[1].mean, 3.5);
    for (float v : splits.train.x) EXPECT_TRUE(std::isfinite(v));
    EXPECT_EQ(splits.train.x[1 * 2 + 0], 0.0f);
    EXPECT_EQ(splits.train.x[4 * 2 + 1], 0.0f);
}

TEST(DataSource, RelativePathIsFoundThroughTheSourceTree) {
    // Tests run in the build folder, where this relative path does not exist.
    json data = hillstrom_data("tests/data/BC-11.csv");
    EXPECT_EQ(open_source(data).rows(), 6);
    data["path"] = "tests/data/no_such_file.csv";
    std::string message = open_error(data);
    EXPECT_NE(message.find("tests/data/no_such_file.csv: data file not found"), std::string::npos)
        << message;
}

TEST(DataSource, CommandLinePathOverridesTheConfig) {
    json data = hillstrom_data(test_data("no_such_file.csv"));
    EXPECT_EQ(open_source(data, test_data("BC-11.csv")).rows(), 6);
}

// ---- Criteo schema

struct CriteoRows {
    std::vector<std::vector<float>> f;  // 12 features per row
    std::vector<int> treatment, conversion, visit, exposure;
};

// A Criteo v2 style table: 12 float features with 3 decimals, 85% treated, binary outcomes.
CriteoRows make_criteo_rows(int n) {
    CriteoRows rows;
    uint32_t state = 12345;
    auto next = [&state]() {
        state = state * 1664525u + 1013904223u;
        return state >> 8;
    };
    for (int i = 0; i < n; ++i) {
        std::vector<float> f(12);
        for (int j = 0; j < 12; ++j) f[j] = float(int(next() % 20000) - 5000) / 1000.0f;
        rows.f.push_back(f);
        rows.treatment.push_back(next() % 100 < 85 ? 1 : 0);
        rows.visit.push_back(next() % 4 == 0 ? 1 : 0);
        rows.conversion.push_back(rows.visit.back() && next() % 3 == 0 ? 1 : 0);
        rows.exposure.push_back(rows.treatment.back() && next() % 2 == 0 ? 1 : 0);
    }
    return rows;
}

std::string criteo_text(const CriteoRows& rows, bool with_exposure) {
    std::string text = "f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,treatment,conversion,visit";
    text += with_exposure ? ",exposure\n" : "\n";
    char cell[32];
    for (size_t i = 0; i < rows.f.size(); ++i) {
        for (float v : rows.f[i]) {
            std::snprintf(cell, sizeof(cell), "%.3f,", v);
            text += cell;
        }
        text += std::to_string(rows.treatment[i]) + "," + std::to_string(rows.conversion[i]) + "," +
                std::to_string(rows.visit[i]);
        text += with_exposure ? "," + std::to_string(rows.exposure[i]) + "\n" : "\n";
    }
    return text;
}

std::string write_plain(const std::string& name, const std::string& text) {
    std::string path = ::testing::TempDir() + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

std::string write_gzip(const std::string& name, const std::string& text) {
    std::string path = ::testing::TempDir() + name;
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, text.data(), unsigned(text.size())), int(text.size()));
    gzclose(file);
    return path;
}

void expect_same_dataset(const Dataset& a, const Dataset& b) {
    EXPECT_EQ(a.n, b.n);
    EXPECT_EQ(a.d, b.d);
    EXPECT_EQ(a.m, b.m);
    EXPECT_EQ(a.feature_names, b.feature_names);
    EXPECT_EQ(a.arm_names, b.arm_names);
    EXPECT_EQ(a.x, b.x);
    EXPECT_EQ(a.arm, b.arm);
    EXPECT_EQ(a.value, b.value);
    EXPECT_EQ(a.cost, b.cost);
    EXPECT_EQ(a.aux_names, b.aux_names);
    EXPECT_EQ(a.aux, b.aux);
    EXPECT_EQ(a.value_is_binary, b.value_is_binary);
    EXPECT_EQ(a.cost_is_binary, b.cost_is_binary);
    EXPECT_EQ(a.propensity, b.propensity);
    EXPECT_EQ(a.user_id, b.user_id);
    EXPECT_EQ(a.source_line, b.source_line);
}

// Every row of the part against the generated values it came from (file line = row + 2).
void expect_rows_match(const Dataset& part, const CriteoRows& rows, const FeatureEncoder& encoder) {
    for (int64_t i = 0; i < part.n; ++i) {
        int64_t r = part.source_line[i] - 2;
        ASSERT_GE(r, 0);
        EXPECT_EQ(part.user_id[i], r);
        EXPECT_EQ(part.arm[i], rows.treatment[r]);
        EXPECT_EQ(part.value[i], float(rows.conversion[r]));
        EXPECT_EQ(part.cost[i], float(rows.visit[r]));
        EXPECT_EQ(part.aux[0][i], float(rows.exposure[r]));
        for (int j = 0; j < 12; ++j) {
            const EncodedColumn& column = encoder.columns()[j];
            double raw = part.row(i)[j] * column.scale + column.mean;
            EXPECT_NEAR(raw, rows.f[r][j], 1e-4) << "row " << r << " f" << j;
        }
    }
}

TEST(Criteo, PlainAndGzipFilesLoadToTheSameDataset) {
    CriteoRows rows = make_criteo_rows(400);
    std::string text = criteo_text(rows, true);
    DataSource plain = open_source({{"source", "criteo"}}, write_plain("criteo.csv", text));
    DataSource gzip = open_source({{"source", "criteo"}}, write_gzip("criteo.csv.gz", text));
    EXPECT_EQ(plain.rows(), 400);
    EXPECT_EQ(gzip.description(), "criteo.csv.gz: 400 rows, 2 arms");
    DataSplits a = plain.split(5);
    DataSplits b = gzip.split(5);
    expect_same_dataset(a.train, b.train);
    expect_same_dataset(a.validation, b.validation);
    expect_same_dataset(a.test, b.test);
    EXPECT_EQ(a.train.n + a.validation.n + a.test.n, 400);
    EXPECT_EQ(a.train.feature_names[11], "f11");
    EXPECT_EQ(a.train.aux_names, (std::vector<std::string>{"exposure"}));
    EXPECT_TRUE(a.train.value_is_binary);
    EXPECT_TRUE(a.train.cost_is_binary);
    expect_rows_match(a.train, rows, a.encoder);
    expect_rows_match(a.test, rows, a.encoder);
}

TEST(Criteo, ExposureIsOptional) {
    CriteoRows rows = make_criteo_rows(50);
    DataSource source = open_source(
        {{"source", "criteo"}}, write_plain("criteo_no_exposure.csv", criteo_text(rows, false)));
    EXPECT_TRUE(source.split(1).train.aux_names.empty());
}

TEST(Criteo, MaxRowsCapsTheRead) {
    CriteoRows rows = make_criteo_rows(300);
    json data = {{"source", "criteo"}, {"max_rows", 120}};
    DataSource source = open_source(data, write_gzip("criteo_cap.csv.gz", criteo_text(rows, true)));
    EXPECT_EQ(source.rows(), 120);
    EXPECT_EQ(source.description(),
              "criteo_cap.csv.gz: 120 rows, 2 arms (first rows only: data.max_rows)");
}

TEST(Criteo, SampleWithoutControlRowsIsRefused) {
    std::string message = open_error({{"source", "criteo"}, {"path", test_data("BC-16.csv")}});
    EXPECT_NE(message.find("BC-16.csv: treatment has one level {1}; control (0) rows are "
                           "required"),
              std::string::npos)
        << message;
}

// ---- synthetic source

json synthetic_data() {
    return {{"source", "synthetic"},
            {"synthetic", {{"rows", 600}, {"features", 4}, {"arms", 3}, {"seed", 9}}},
            {"split", {{"train", 0.5}, {"validation", 0.2}, {"test", 0.3}}}};
}

TEST(DataSource, SyntheticRowsKeepTheirTruthThroughTheSplit) {
    DataSource source = open_source(synthetic_data());
    EXPECT_EQ(source.rows(), 600);
    EXPECT_EQ(source.arms(), 3);
    DataSplits splits = source.split(4);
    EXPECT_EQ(splits.train.n + splits.validation.n + splits.test.n, 600);

    // The generator called directly is the reference for every carried column.
    SyntheticParams params;
    params.rows = 600;
    params.features = 4;
    params.arms = 3;
    params.seed = 9;
    Dataset generated = generate_synthetic(params);
    for (const Dataset* part : {&splits.train, &splits.test}) {
        ASSERT_TRUE(part->has_truth());
        ASSERT_EQ(part->true_value.size(), size_t(part->n * 3));
        EXPECT_EQ(part->d, 4);
        for (int64_t i = 0; i < part->n; ++i) {
            int64_t u = part->user_id[i];
            EXPECT_EQ(part->arm[i], generated.arm[u]);
            EXPECT_EQ(part->value[i], generated.value[u]);
            EXPECT_EQ(part->cost[i], generated.cost[u]);
            for (int j = 0; j < 3; ++j) {
                EXPECT_EQ(part->true_value[i * 3 + j], generated.true_value[u * 3 + j]);
                EXPECT_EQ(part->true_cost[i * 3 + j], generated.true_cost[u * 3 + j]);
            }
        }
    }

    // Features standardised with the training rows: mean 0 and deviation 1 there.
    const Dataset& train = splits.train;
    for (int f = 0; f < train.d; ++f) {
        double sum = 0, squares = 0;
        for (int64_t i = 0; i < train.n; ++i) sum += train.row(i)[f];
        double mean = sum / train.n;
        for (int64_t i = 0; i < train.n; ++i)
            squares += (train.row(i)[f] - mean) * (train.row(i)[f] - mean);
        EXPECT_NEAR(mean, 0.0, 1e-5) << "feature " << f;
        EXPECT_NEAR(std::sqrt(squares / train.n), 1.0, 1e-5) << "feature " << f;
    }
}

TEST(DataSource, SyntheticSourceTakesNoDataPath) {
    try {
        open_source(synthetic_data(), "some.csv");
        FAIL() << "a data path was accepted for the synthetic source";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("test.json: data.source"), std::string::npos)
            << error.what();
    }
}

TEST(DataSource, SyntheticArmWithoutRowsIsRefused) {
    // Two users cannot cover five arms.
    json data = {{"source", "synthetic"}, {"synthetic", {{"rows", 2}, {"arms", 5}}}};
    std::string message = open_error(data);
    EXPECT_NE(message.find("has no rows among 2"), std::string::npos) << message;
}

// ---- shipped data and configs

TEST(DataSource, ShippedConfigsParse) {
    for (const char* name : {"hillstrom.json", "hillstrom_conversion.json", "criteo.json"}) {
        ConfigNode config = ConfigNode::from_file(std::string(CA_SOURCE_DIR) + "/configs/" + name);
        DataSchema schema = parse_data_schema(config.child("data"));
        EXPECT_FALSE(schema.path.empty()) << name;
        EXPECT_EQ(schema.split.test, 0.3) << name;
    }
}

TEST(DataSource, HillstromArmCountsAndMeanSpend) {
    const char* shared = std::getenv("CA_SHARED_DATA");
    std::string dir = shared ? shared : std::string(CA_SOURCE_DIR) + "/../shared/data";
    std::string path = dir + "/hillstrom.csv";
    if (!std::ifstream(path)) GTEST_SKIP() << "Hillstrom data not found at " << path;

    ConfigNode config =
        ConfigNode::from_file(std::string(CA_SOURCE_DIR) + "/configs/hillstrom.json");
    DataSource source = DataSource::open(config.child("data"), path);
    EXPECT_EQ(source.description(), "hillstrom.csv: 64000 rows, 3 arms");
    DataSplits splits = source.split(1);

    // Counts and mean spend per arm over the three parts together, against the data README.
    std::vector<int64_t> count(3, 0);
    std::vector<double> spend(3, 0.0);
    for (const Dataset* part : {&splits.train, &splits.validation, &splits.test}) {
        for (int64_t i = 0; i < part->n; ++i) {
            count[part->arm[i]] += 1;
            spend[part->arm[i]] += part->value[i];
        }
    }
    EXPECT_EQ(count, (std::vector<int64_t>{21306, 21307, 21387}));
    EXPECT_NEAR(spend[0] / count[0], 0.653, 0.0005);
    EXPECT_NEAR(spend[1] / count[1], 1.423, 0.0005);
    EXPECT_NEAR(spend[2] / count[2], 1.077, 0.0005);
    EXPECT_EQ(splits.train.n, 38400);
    EXPECT_EQ(splits.test.n, 19200);
    for (float v : splits.train.x) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace ca
