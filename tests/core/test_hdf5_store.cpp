// HDF5 storage: exact round trips of every column, row slices against Dataset::subset, damaged
// and foreign files, bad stored values, atomic writing, and the "hdf5" data source's config.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/data_source.h"
#include "core/dataset_test_support.h"
#include "core/errors.h"
#include "core/hdf5_store.h"
#include "core/stored_table.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

namespace fs = std::filesystem;
using testing::expect_same_dataset;
using testing::hand_made_rows;

fs::path fresh_directory(const std::string& name) {
    fs::path root = fs::path(::testing::TempDir()) / name;
    fs::remove_all(root);
    fs::create_directories(root);
    return root;
}

std::vector<int64_t> range_of(int64_t first, int64_t count) {
    std::vector<int64_t> rows(size_t(count), 0);
    std::iota(rows.begin(), rows.end(), first);
    return rows;
}

template <typename Error = InputError, typename Body>
std::string error_of(Body body) {
    try {
        body();
    } catch (const Error& error) {
        return error.what();
    }
    return "no error";
}

std::string read_error(const std::string& path) {
    return error_of([&] { read_hdf5(path); });
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

TEST(Hdf5Store, RoundTripKeepsEveryColumnExactly) {
    fs::path dir = fresh_directory("hdf5_round_trip");
    Dataset data = hand_made_rows();
    // Chunks of 2 rows, appended in pieces of 3 and 4: appends straddle chunk boundaries.
    Hdf5WriteOptions options;
    options.chunk_rows = 2;
    Hdf5Layout layout = Hdf5Layout::of(data);
    layout.provenance = "{\"made\": \"by hand\"}";
    std::string path = (dir / "rows.h5").string();
    {
        Hdf5Writer writer(path, layout, options);
        writer.append(data.subset(range_of(0, 3)));
        writer.append(data.subset(range_of(3, 4)));
        EXPECT_EQ(writer.rows(), 7);
        writer.finish();
    }
    Hdf5Reader reader(path);
    EXPECT_EQ(reader.rows(), 7);
    EXPECT_EQ(reader.layout().provenance, layout.provenance);
    EXPECT_TRUE(reader.layout().has_propensity && reader.layout().has_truth);
    expect_same_dataset(reader.read_rows(0, 7), data);
}

TEST(Hdf5Store, RoundTripWithoutOptionalColumns) {
    fs::path dir = fresh_directory("hdf5_plain");
    Dataset data = hand_made_rows();
    data.aux_names.clear();
    data.aux.clear();
    data.propensity.clear();
    data.true_value.clear();
    data.true_cost.clear();
    data.user_id.clear();
    data.source_line.clear();
    std::string path = (dir / "plain.h5").string();
    write_hdf5(path, data, {0, 6});
    Hdf5Reader reader(path);
    EXPECT_FALSE(reader.layout().has_propensity || reader.layout().has_truth ||
                 reader.layout().has_user_id || reader.layout().has_source_line);
    expect_same_dataset(reader.read_rows(0, reader.rows()), data);
}

TEST(Hdf5Store, SlicesEqualTheSubsetOfTheSameRows) {
    fs::path dir = fresh_directory("hdf5_slices");
    Dataset data = hand_made_rows();
    std::string path = (dir / "rows.h5").string();
    write_hdf5(path, data, {3, 0});
    Hdf5Reader reader(path);
    const std::vector<std::pair<int64_t, int64_t>> slices = {{0, 7}, {0, 1}, {2, 3}, {3, 3},
                                                             {5, 2}, {6, 1}, {4, 0}, {7, 0}};
    for (const auto& [first, count] : slices) {
        SCOPED_TRACE("rows [" + std::to_string(first) + ", +" + std::to_string(count) + ")");
        expect_same_dataset(reader.read_rows(first, count), data.subset(range_of(first, count)));
    }
    std::string message = error_of([&] { reader.read_rows(5, 3); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("rows [5, 8) leave the file's rows [0, 7)"), std::string::npos)
        << message;
}

TEST(Hdf5Store, StoredFeatureKindsAndManyLevelsRoundTrip) {
    fs::path dir = fresh_directory("hdf5_features");
    Dataset data = hand_made_rows();
    // 20000 levels need far more than the 64 KiB an attribute may hold in compact storage.
    std::vector<std::string> many_levels;
    for (int k = 0; k < 20000; ++k) many_levels.push_back("zip-" + std::to_string(k));
    for (int64_t i = 0; i < data.n; ++i) {
        data.x[size_t(i * 3 + 1)] = float(i % 2);
        data.x[size_t(i * 3 + 2)] = float(i * 2851 % 20000);
    }
    data.x[2] = NAN;  // a missing category, legal under impute_mean
    Hdf5Layout layout = Hdf5Layout::of(data);
    layout.features[1].type = FeatureType::kBinary;
    layout.features[2] = {"zip", FeatureType::kCategorical, CategoricalEncoding::kOrdinal,
                          many_levels};
    layout.features[2].levels[7] = "Zürich, \"Altstadt\"";
    layout.missing = MissingPolicy::kImputeMean;
    std::string path = (dir / "features.h5").string();
    Hdf5Writer writer(path, layout, {});
    writer.append(data);
    writer.finish();

    Hdf5Reader reader(path);
    ASSERT_EQ(reader.layout().features.size(), 3u);
    EXPECT_EQ(reader.layout().features[0].type, FeatureType::kNumeric);
    EXPECT_EQ(reader.layout().features[1].type, FeatureType::kBinary);
    const StoredFeature& zip = reader.layout().features[2];
    EXPECT_EQ(zip.name, "zip");
    EXPECT_EQ(zip.type, FeatureType::kCategorical);
    EXPECT_EQ(zip.encoding, CategoricalEncoding::kOrdinal);
    EXPECT_EQ(zip.levels, layout.features[2].levels);
    EXPECT_EQ(reader.layout().missing, MissingPolicy::kImputeMean);
    Dataset back = reader.read_rows(0, 7);
    back.feature_names[2] = "visits";
    expect_same_dataset(back, data);
}

TEST(Hdf5Store, UnfinishedWriterLeavesNothing) {
    fs::path dir = fresh_directory("hdf5_unfinished");
    std::string path = (dir / "rows.h5").string();
    {
        Hdf5Writer writer(path, Hdf5Layout::of(hand_made_rows()), {});
        writer.append(hand_made_rows());
    }
    EXPECT_TRUE(fs::is_empty(dir)) << "a writer destroyed before finish() left a file";
}

TEST(Hdf5Store, MissingOrForeignFileNamesTheFile) {
    fs::path dir = fresh_directory("hdf5_foreign");
    std::string missing = (dir / "absent.h5").string();
    EXPECT_EQ(read_error(missing), missing + ": data file not found");

    std::string text = (dir / "table.h5").string();
    write_bytes(text, "f0,treatment,conversion\n0.1,1,0\n");
    std::string message = read_error(text);
    EXPECT_EQ(message.rfind(text + ": not an HDF5 file", 0), 0u) << message;
}

TEST(Hdf5Store, TruncatedFileNamesTheFile) {
    fs::path dir = fresh_directory("hdf5_truncated");
    std::string whole = (dir / "whole.h5").string();
    write_hdf5(whole, hand_made_rows(), {2, 0});
    std::string bytes = file_bytes(whole);
    ASSERT_GT(bytes.size(), 4096u);
    for (size_t keep : {bytes.size() / 2, bytes.size() - 100, size_t(600), size_t(8)}) {
        std::string cut = (dir / ("cut_" + std::to_string(keep) + ".h5")).string();
        write_bytes(cut, bytes.substr(0, keep));
        std::string message = read_error(cut);
        SCOPED_TRACE("kept " + std::to_string(keep) + " bytes");
        EXPECT_EQ(message.rfind(cut + ": ", 0), 0u) << message;
    }
}

TEST(Hdf5Store, CorruptChunkFailsItsChecksum) {
    fs::path dir = fresh_directory("hdf5_corrupt");
    Dataset data = hand_made_rows();
    // A value whose bytes appear nowhere else in the file, to find the chunk that holds it.
    data.value[3] = 4242.4242f;
    std::string path = (dir / "rows.h5").string();
    write_hdf5(path, data, {});
    std::string bytes = file_bytes(path);
    char pattern[sizeof(float)];
    std::memcpy(pattern, &data.value[3], sizeof(float));
    size_t at = bytes.find(std::string(pattern, sizeof(float)));
    ASSERT_NE(at, std::string::npos);
    bytes[at] = char(bytes[at] ^ 0x10);
    write_bytes(path, bytes);

    std::string message = read_error(path);
    EXPECT_EQ(message.rfind(path + ": cannot read rows [0, 7) of column 'value'", 0), 0u)
        << message;
}

// A flipped bit in every 251st byte: an error naming the file, or (in padding and unused space)
// the very same rows; the long suite flips every byte.
TEST(Hdf5Store, DamagedBytesAreCaughtOrHarmless) {
    testing::expect_damage_caught(fresh_directory("hdf5_damage"), 251);
}

TEST(Hdf5Store, BadStoredValuesNameColumnAndRow) {
    fs::path dir = fresh_directory("hdf5_bad_values");
    struct Case {
        std::string name;
        void (*spoil)(Dataset&);
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"arm", [](Dataset& d) { d.arm[4] = 3; }, "column 'arm', row 4: arm 3 is outside [0, 3)"},
        {"cost", [](Dataset& d) { d.cost[6] = -1; }, "column 'cost', row 6: -1 is negative"},
        {"value", [](Dataset& d) { d.value[0] = INFINITY; },
         "column 'value', row 0: inf is not finite"},
        {"nan", [](Dataset& d) { d.x[7] = NAN; },
         "column 'x' (feature 'spend'), row 2: missing (NaN), but the file's missing policy is "
         "error"},
        {"propensity", [](Dataset& d) { d.propensity[1] = 0.0; },
         "column 'propensity', row 1: 0 is outside (0, 1]"},
    };
    for (const Case& c : cases) {
        Dataset data = hand_made_rows();
        c.spoil(data);
        std::string path = (dir / (c.name + ".h5")).string();
        write_hdf5(path, data, {});
        Hdf5Reader reader(path);
        EXPECT_EQ(error_of([&] { reader.read_rows(0, 7); }), path + ": " + c.expected);
        // A slice that leaves the bad row out reads fine.
        EXPECT_NO_THROW(reader.read_rows(0, 0));
    }
}

DataSource open_data(const nlohmann::json& data) {
    return DataSource::open(ConfigNode::from_json({{"data", data}}, "test.json").child("data"));
}

// Ranks each read their own block of rows and join them: every rank holds the one-process
// table, also with more ranks than rows, and a bad value is reported on every rank.
TEST(Hdf5Source, RanksReadTheirBlocksAndJoinThem) {
    fs::path dir = fresh_directory("hdf5_ranks");
    const Dataset data = hand_made_rows();
    const std::string path = (dir / "rows.h5").string();
    write_hdf5(path, data, {});
    const StoredTable one = load_stored_table(path);
    for (int ranks : {2, 3, int(data.n) + 2}) {
        auto tables = testing::run_on_ranks<StoredTable>(
            ranks, [&](Communicator& comm) { return load_stored_table(path, 0, comm); });
        for (const StoredTable& table : tables) {
            expect_same_dataset(one.rows, table.rows);
            EXPECT_EQ(table.table.n, one.table.n);
            ASSERT_EQ(table.table.features.size(), one.table.features.size());
            for (size_t f = 0; f < one.table.features.size(); ++f)
                EXPECT_EQ(table.table.features[f].numbers, one.table.features[f].numbers);
        }
    }

    Dataset spoiled = hand_made_rows();
    spoiled.cost[6] = -1;
    const std::string bad = (dir / "bad.h5").string();
    write_hdf5(bad, spoiled, {});
    const std::string expected = error_of([&] { load_stored_table(bad); });
    ASSERT_NE(expected.find("column 'cost', row 6"), std::string::npos) << expected;
    auto errors = testing::run_on_ranks<std::string>(
        3, [&](Communicator& comm) { return error_of([&] { load_stored_table(bad, 0, comm); }); });
    for (const std::string& error : errors) EXPECT_EQ(error, expected);
}

TEST(Hdf5Source, ConfigKeysAreChecked) {
    EXPECT_EQ(error_of<ConfigError>([] {
                  open_data({{"source", "hdf5"}});
              }),
              "test.json: data.path: no data file: set data.path or give one on the command "
              "line");
    std::string unknown = error_of<ConfigError>([] {
        open_data({{"source", "hdf5"}, {"path", "x.h5"}, {"arms", 2}});
    });
    EXPECT_EQ(unknown.rfind("test.json: data.arms: unknown key", 0), 0u) << unknown;
    std::string split = error_of<ConfigError>([] {
        open_data({{"source", "hdf5"}, {"path", "x.h5"}, {"split", {{"train", 0.9}}}});
    });
    EXPECT_EQ(split.rfind("test.json: data.split: train + validation + test must be 1", 0), 0u)
        << split;
}

TEST(Hdf5Source, SchemaParsesWithoutReadingTheFile) {
    nlohmann::json data = {{"source", "hdf5"}, {"path", "not/there.h5"}, {"max_rows", 10}};
    DataSchema schema = DataSource::parse_schema(
        ConfigNode::from_json({{"data", data}}, "test.json").child("data"));
    EXPECT_EQ(schema.path, "not/there.h5");
    EXPECT_EQ(schema.max_rows, 10);
    EXPECT_EQ(schema.origin, "test.json");
}

TEST(Hdf5Source, ReadsTheFirstRowsAndKeepsTheTruth) {
    fs::path dir = fresh_directory("hdf5_source");
    Dataset data = hand_made_rows();
    std::string path = (dir / "rows.h5").string();
    write_hdf5(path, data, {});
    DataSource source = open_data({{"source", "hdf5"},
                                   {"path", path},
                                   {"max_rows", 6},
                                   {"split", {{"train", 1.0}, {"validation", 0}, {"test", 0}}}});
    EXPECT_EQ(source.description(), "rows.h5: 6 rows, 3 arms (first rows only: data.max_rows)");
    EXPECT_EQ(source.propensity_source(), "per-row propensities stored in rows.h5");
    Dataset train = source.split(1).train;
    ASSERT_EQ(train.n, 6);
    // The split keeps file order within a part, so the rows come back as stored.
    Dataset first_six = data.subset(range_of(0, 6));
    EXPECT_EQ(train.arm, first_six.arm);
    EXPECT_EQ(train.true_value, first_six.true_value);
    EXPECT_EQ(train.user_id, first_six.user_id);
    EXPECT_EQ(train.source, "hand-made");
    // Features come back standardised with the training rows' mean and deviation.
    double mean = 0;
    for (int64_t i = 0; i < 6; ++i) mean += first_six.x[size_t(i * 3)];
    mean /= 6;
    double squares = 0;
    for (int64_t i = 0; i < 6; ++i) squares += std::pow(first_six.x[size_t(i * 3)] - mean, 2);
    double deviation = std::sqrt(squares / 6);
    for (int64_t i = 0; i < 6; ++i)
        EXPECT_NEAR(train.x[size_t(i * 3)], (first_six.x[size_t(i * 3)] - mean) / deviation, 1e-5);
}

}  // namespace
}  // namespace ca
