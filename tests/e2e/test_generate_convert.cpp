// The generate and convert commands end to end: streamed generation equals the in-memory
// generator for any chunk size, and a stored file (generated or converted) gives the same
// seeded splits as the source it came from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/data_source.h"
#include "core/dataset_test_support.h"
#include "core/errors.h"
#include "core/hdf5_store.h"
#include "core/synthetic_generator.h"
#include "experiments/convert_command.h"
#include "experiments/generate_command.h"

namespace ca {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::expect_same_dataset;

fs::path fresh_directory(const std::string& name) {
    fs::path root = fs::path(::testing::TempDir()) / name;
    fs::remove_all(root);
    fs::create_directories(root);
    return root;
}

std::string test_data(const std::string& name) {
    const char* dir = std::getenv("CA_TEST_DATA");
    return fs::absolute(fs::path(dir ? dir : "tests/data") / name).string();
}

std::string write_config(const fs::path& path, const json& data) {
    std::ofstream(path) << json{{"name", "storage test"}, {"data", data}}.dump(2);
    return path.string();
}

// Runs a command's entry point in process, as main would with these arguments.
int run_command(int (*command)(int, char**), std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), "clusteralloc");
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    return command(int(argv.size()), argv.data());
}

template <typename Error, typename Body>
std::string error_of(Body body) {
    try {
        body();
    } catch (const Error& error) {
        return error.what();
    }
    return "no error";
}

DataSource open_data(const json& data) {
    return DataSource::open(ConfigNode::from_json({{"data", data}}, "test.json").child("data"));
}

void expect_same_splits(const DataSource& a, const DataSource& b, uint64_t seed) {
    DataSplits left = a.split(seed), right = b.split(seed);
    EXPECT_EQ(left.encoder.to_json(), right.encoder.to_json());
    for (auto part : {&DataSplits::train, &DataSplits::validation, &DataSplits::test}) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        expect_same_dataset(left.*part, right.*part);
    }
}

SyntheticParams noisy_params(int64_t rows) {
    SyntheticParams params;
    params.rows = rows;
    params.features = 4;
    params.arms = 3;
    params.seed = 7;
    params.label_noise = 0.5;
    params.outlier_rate = 0.1;
    params.feature_noise = 0.2;
    return params;
}

TEST(StreamGenerate, ChunkSizeDoesNotChangeTheRows) {
    fs::path dir = fresh_directory("stream_generate_chunks");
    SyntheticParams params = noisy_params(50);
    Dataset in_memory = generate_synthetic(params);
    for (int64_t chunk : {3, 7, 50, 1000}) {
        SCOPED_TRACE("chunk " + std::to_string(chunk));
        GenerateOptions options;
        options.output_path = (dir / ("chunk_" + std::to_string(chunk) + ".h5")).string();
        options.chunk_rows = chunk;
        GenerateSummary summary = generate_to_hdf5(params, options);
        EXPECT_EQ(summary.rows, 50);
        EXPECT_GT(summary.bytes, 0);
        expect_same_dataset(read_hdf5(options.output_path), in_memory);
    }
}

TEST(StreamGenerate, StoredRowsSplitLikeTheSyntheticSource) {
    fs::path dir = fresh_directory("stream_generate_source");
    SyntheticParams params = noisy_params(300);
    GenerateOptions options;
    options.output_path = (dir / "synthetic.h5").string();
    options.chunk_rows = 64;
    generate_to_hdf5(params, options);

    json split = {{"train", 0.6}, {"validation", 0.1}, {"test", 0.3}};
    DataSource generated = open_data({{"source", "synthetic"},
                                      {"synthetic", synthetic_params_to_json(params)},
                                      {"split", split}});
    DataSource stored =
        open_data({{"source", "hdf5"}, {"path", options.output_path}, {"split", split}});
    EXPECT_EQ(stored.rows(), 300);
    for (uint64_t seed : {1u, 2u}) expect_same_splits(generated, stored, seed);
}

TEST(StreamGenerate, CommandLine) {
    fs::path dir = fresh_directory("stream_generate_command");
    SyntheticParams params = noisy_params(1000);
    std::string config =
        write_config(dir / "synthetic.json",
                     {{"source", "synthetic"}, {"synthetic", synthetic_params_to_json(params)}});
    std::string out = (dir / "users.h5").string();
    EXPECT_EQ(run_command(generate_command, {"generate", "--config", config, "--rows", "40",
                                             "--out", out, "--chunk", "9", "--quiet"}),
              0);
    params.rows = 40;
    Hdf5Reader reader(out);
    expect_same_dataset(reader.read_rows(0, reader.rows()), generate_synthetic(params));
    json provenance = json::parse(reader.layout().provenance);
    EXPECT_EQ(provenance["command"], "generate");
    EXPECT_EQ(provenance["synthetic"]["rows"], 40);

    EXPECT_EQ(error_of<ConfigError>([&] {
                  run_command(generate_command,
                              {"generate", "--config", config, "--rows", "0", "--out", out});
              }),
              "command line: --rows expects an integer in [1, 1099511627776], got \"0\"");
    std::string csv_config = write_config(dir / "csv.json", {{"source", "criteo"}, {"path", "x"}});
    std::string message = error_of<ConfigError>([&] {
        run_command(generate_command, {"generate", "--config", csv_config, "--out", out});
    });
    EXPECT_NE(message.find("data.source: generate needs the synthetic source, got \"criteo\""),
              std::string::npos)
        << message;
}

json small_csv_data(const std::string& path) {
    return {{"path", path},
            {"treatment", {{"column", "segment"}, {"arms", {"ctrl", "A", "B"}}}},
            {"value", {{"column", "spend"}}},
            {"cost", {{"column", "coupon"}}},
            {"aux", {{{"column", "visits"}}}},
            {"features",
             {{{"column", "age"}},
              {{"column", "member"}, {"type", "binary"}},
              {{"column", "city"}, {"type", "categorical"}},
              {{"column", "tier"}, {"type", "categorical"}, {"encoding", "ordinal"}}}},
            {"propensity", {{"column", "p"}}},
            {"id_column", "user"},
            {"missing", "impute_mean"},
            {"split", {{"train", 0.5}, {"validation", 0.25}, {"test", 0.25}}}};
}

TEST(ConvertCsv, StoredFileSplitsLikeTheCsv) {
    fs::path dir = fresh_directory("convert_csv");
    std::string csv = test_data("convert_small.csv");
    std::string config = write_config(dir / "small.json", small_csv_data(csv));
    std::string out = (dir / "small.h5").string();
    EXPECT_EQ(run_command(convert_command,
                          {"convert", "--config", config, "--out", out, "--chunk", "5", "--quiet"}),
              0);

    DataSource direct = open_data(small_csv_data(csv));
    DataSource stored =
        open_data({{"source", "hdf5"}, {"path", out}, {"split", small_csv_data(csv)["split"]}});
    EXPECT_EQ(stored.rows(), 12);
    EXPECT_EQ(stored.arm_names(), direct.arm_names());
    for (uint64_t seed : {1u, 2u, 3u}) expect_same_splits(direct, stored, seed);
}

TEST(ConvertCsv, BadCellNamesItsPlaceAndWritesNothing) {
    fs::path dir = fresh_directory("convert_bad");
    std::string csv = (dir / "bad.csv").string();
    std::ofstream(csv) << "user,segment,spend,coupon,visits,age,member,city,tier,p\n"
                          "1,ctrl,0,0,1,34,1,Lyon,gold,0.5\n"
                          "2,A,lots,2,3,40,0,Paris,silver,0.25\n";
    std::string config = write_config(dir / "bad.json", small_csv_data(csv));
    std::string out = (dir / "bad.h5").string();
    std::string message = error_of<InputError>([&] {
        run_command(convert_command, {"convert", "--config", config, "--out", out});
    });
    EXPECT_EQ(message.rfind(csv + ":3:3: ", 0), 0u) << message;
    EXPECT_FALSE(fs::exists(out));

    std::string synthetic = write_config(dir / "synthetic.json",
                                         {{"source", "synthetic"}, {"synthetic", json::object()}});
    message = error_of<ConfigError>([&] {
        run_command(convert_command, {"convert", "--config", synthetic, "--out", out});
    });
    EXPECT_NE(message.find("`clusteralloc generate` stores synthetic data"), std::string::npos)
        << message;
}

}  // namespace
}  // namespace ca
