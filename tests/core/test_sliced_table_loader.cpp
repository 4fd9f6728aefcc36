// Ranks (threads here) reading byte slices of one CSV file: every rank ends with the table one
// process reads (rows, level order, line numbers, ids), and with the one-process error message
// when the file is bad, whichever slice the bad cell lies in.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/csv_slices.h"
#include "core/errors.h"
#include "core/rank_gather.h"
#include "core/schema.h"
#include "core/table_loader.h"
#include "support/thread_ranks.h"

namespace ca {
namespace {

using nlohmann::json;
using testing::run_on_ranks;

std::string write_temp(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

json data_config(const std::string& path, bool with_ids = true) {
    json data = {{"path", path},
                 {"treatment", {{"column", "arm"}, {"arms", {"ctl", "a", "b"}}}},
                 {"value", {{"column", "value"}}},
                 {"cost", {{"column", "cost"}}},
                 {"aux", {{{"column", "visit"}}}},
                 {"propensity", {{"column", "p"}, {"invalid", "clip"}, {"clip", {0.05, 0.95}}}},
                 {"missing", "impute_mean"},
                 {"features",
                  {{{"column", "age"}},
                   {{"column", "city"}, {"type", "categorical"}},
                   {{"column", "member"}, {"type", "binary"}}}}};
    if (with_ids) data["id_column"] = "uid";
    return data;
}

DataSchema schema_of(const json& data) {
    return parse_data_schema(ConfigNode::from_json(data, "test.json"));
}

// Rows with everything the loader handles: new categorical levels all along the file (their
// order is the order of first appearance), missing cells, clipped propensities, CRLF line
// ends, blank lines, quoted fields with commas and line breaks.
std::string random_csv(int rows, uint32_t seed, bool multiline_notes = true) {
    std::mt19937 random(seed);
    std::string text = "uid,arm,value,cost,visit,p,age,city,member,note\n";
    const char* arms[] = {"ctl", "a", "b"};
    for (int i = 0; i < rows; ++i) {
        int arm = i < 3 ? i : int(random() % 3);
        text += std::to_string(1000 + 7 * i) + "," + arms[arm] + ",";
        text += std::to_string(random() % 50) + "," + std::to_string(arm * 2) + ",";
        text += std::to_string(random() % 2) + ",";
        text += (random() % 20 == 0 ? "0.999" : "0.4") + std::string(",");
        text += random() % 15 == 0 ? "NA" : std::to_string(18 + random() % 60);
        text += ",";
        text += random() % 25 == 0 ? "" : "\"c" + std::to_string(random() % (1 + i / 4)) + "\"";
        text += "," + std::to_string(random() % 2) + ",";
        switch (random() % 6) {
            case 0:
                text += multiline_notes ? "\"line one\nline, two\"" : "\"one, two\"";
                break;
            case 1:
                text += "plain";
                break;
            default:
                break;
        }
        text += random() % 7 == 0 ? "\r\n" : "\n";
        if (random() % 11 == 0) text += "\n";
    }
    return text;
}

void expect_same_table(const RawTable& expected, const RawTable& actual) {
    ASSERT_EQ(expected.n, actual.n);
    EXPECT_EQ(expected.arm, actual.arm);
    EXPECT_EQ(expected.value, actual.value);
    EXPECT_EQ(expected.cost, actual.cost);
    EXPECT_EQ(expected.aux, actual.aux);
    EXPECT_EQ(expected.aux_names, actual.aux_names);
    EXPECT_EQ(expected.propensity, actual.propensity);
    EXPECT_EQ(expected.propensity_clipped, actual.propensity_clipped);
    EXPECT_EQ(expected.user_id, actual.user_id);
    EXPECT_EQ(expected.source_line, actual.source_line);
    EXPECT_EQ(expected.value_is_binary, actual.value_is_binary);
    EXPECT_EQ(expected.cost_is_binary, actual.cost_is_binary);
    ASSERT_EQ(expected.features.size(), actual.features.size());
    for (size_t f = 0; f < expected.features.size(); ++f) {
        const RawFeature& want = expected.features[f];
        const RawFeature& got = actual.features[f];
        EXPECT_EQ(want.levels, got.levels) << want.name();
        EXPECT_EQ(want.codes, got.codes) << want.name();
        EXPECT_EQ(want.missing, got.missing) << want.name();
        ASSERT_EQ(want.numbers.size(), got.numbers.size()) << want.name();
        for (size_t i = 0; i < want.numbers.size(); ++i) {
            if (std::isnan(want.numbers[i])) {
                EXPECT_TRUE(std::isnan(got.numbers[i])) << want.name() << " row " << i;
            } else {
                EXPECT_EQ(want.numbers[i], got.numbers[i]) << want.name() << " row " << i;
            }
        }
    }
}

struct RankTable {
    RawTable table;
    bool read_in_slices = false;
};

std::vector<RankTable> load_on_ranks(const DataSchema& schema, int ranks) {
    return run_on_ranks<RankTable>(ranks, [&schema](Communicator& comm) {
        RankTable out;
        out.table = load_table(schema, comm, &out.read_in_slices);
        return out;
    });
}

// Loads on `ranks` thread ranks, checks every rank against the one-process table and returns
// whether the ranks read slices (all ranks agree on it).
bool same_on_ranks(const DataSchema& schema, const RawTable& serial, int ranks) {
    std::vector<RankTable> tables = load_on_ranks(schema, ranks);
    for (const RankTable& rank : tables) {
        expect_same_table(serial, rank.table);
        EXPECT_EQ(rank.read_in_slices, tables[0].read_in_slices);
    }
    return tables[0].read_in_slices;
}

// The message every rank threw, or "no error".
std::vector<std::string> errors_on_ranks(const DataSchema& schema, int ranks) {
    return run_on_ranks<std::string>(ranks, [&schema](Communicator& comm) {
        try {
            load_table(schema, comm);
        } catch (const InputError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    });
}

std::string serial_error(const DataSchema& schema) {
    try {
        load_table(schema);
    } catch (const InputError& error) {
        return error.what();
    }
    return "no error";
}

// Without line breaks inside quoted fields every cut falls between records: the ranks read
// slices, and their joined table is the one-process table.
TEST(SlicedTableLoaderTest, EveryRankHoldsTheTableOneProcessReads) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        const std::string path = write_temp("sliced_random.csv", random_csv(400, seed, false));
        const DataSchema schema = schema_of(data_config(path));
        const RawTable serial = load_table(schema);
        ASSERT_GT(serial.features[1].levels.size(), 20u);  // levels keep arriving
        for (int ranks : {2, 3, 5, 8}) {
            SCOPED_TRACE("seed " + std::to_string(seed) + ", " + std::to_string(ranks) + " ranks");
            EXPECT_TRUE(same_on_ranks(schema, serial, ranks)) << "the slices were not used";
        }
    }
}

// With them, a cut may fall inside a record; either way the table is the one-process table.
TEST(SlicedTableLoaderTest, QuotedLineBreaksAnywhereGiveTheSameTable) {
    int sliced = 0;
    for (uint32_t seed : {1u, 2u, 3u}) {
        const std::string path = write_temp("sliced_multiline.csv", random_csv(400, seed));
        const DataSchema schema = schema_of(data_config(path));
        const RawTable serial = load_table(schema);
        for (int ranks : {2, 3, 5, 8}) {
            SCOPED_TRACE("seed " + std::to_string(seed) + ", " + std::to_string(ranks) + " ranks");
            sliced += same_on_ranks(schema, serial, ranks) ? 1 : 0;
        }
    }
    EXPECT_GT(sliced, 0) << "some cuts fall between records";
}

TEST(SlicedTableLoaderTest, RowIndicesStandInForMissingIds) {
    const std::string path = write_temp("sliced_no_ids.csv", random_csv(120, 9, false));
    const DataSchema schema = schema_of(data_config(path, false));
    const RawTable serial = load_table(schema);
    ASSERT_EQ(serial.user_id.back(), serial.n - 1);
    EXPECT_TRUE(same_on_ranks(schema, serial, 3));
}

// A quoted field spanning many lines around the middle of the file: the cut between two ranks
// lands inside it, which a slice reader can tell only from the slice before; the ranks notice
// and read the whole file.
TEST(SlicedTableLoaderTest, ACutInsideAQuotedFieldFallsBackToTheWholeFile) {
    std::string text = random_csv(40, 4);
    std::string long_note = "\"";
    for (int i = 0; i < 400; ++i) long_note += "note line " + std::to_string(i) + "\n";
    long_note += "\"";
    text += "5000,a,3,2,1,0.4,30,\"c1\",1," + long_note + "\n";
    const std::string more = random_csv(40, 5);
    text += more.substr(more.find('\n') + 1);
    const std::string path = write_temp("sliced_quoted.csv", text);
    const DataSchema schema = schema_of(data_config(path));
    const ByteSlice second = csv_byte_slice(path, 1, 2, 0);
    const size_t quote = text.find(long_note);
    ASSERT_GT(second.begin, int64_t(quote));  // the cut is inside the quoted field
    ASSERT_LT(second.begin, int64_t(quote + long_note.size()));
    const RawTable serial = load_table(schema);
    EXPECT_FALSE(same_on_ranks(schema, serial, 2)) << "the cut inside the field was not seen";
}

TEST(SlicedTableLoaderTest, ABadCellLateInTheFileGivesTheOneProcessMessageOnEveryRank) {
    std::string text = random_csv(300, 6, false);
    const size_t late = text.rfind("\n", text.size() - 2) + 1;  // the last row's start
    text.insert(text.find(',', late) + 1, "unknown_arm_");
    const std::string path = write_temp("sliced_bad_late.csv", text);
    const DataSchema schema = schema_of(data_config(path));
    const std::string expected = serial_error(schema);
    ASSERT_NE(expected.find("unknown treatment label"), std::string::npos) << expected;
    for (int ranks : {2, 4})
        for (const std::string& message : errors_on_ranks(schema, ranks))
            EXPECT_EQ(expected, message);
}

// Bad cells in the first and the last slice: the message is the first one in the file.
TEST(SlicedTableLoaderTest, TheFirstBadCellInTheFileIsReported) {
    std::string text = random_csv(300, 7, false);
    const size_t late = text.rfind("\n", text.size() - 2) + 1;
    text.insert(text.find(',', late) + 1, "late_");
    const size_t early = text.find('\n') + 1;
    text.insert(text.find(',', early) + 1, "early_");
    const std::string path = write_temp("sliced_bad_both.csv", text);
    const DataSchema schema = schema_of(data_config(path));
    const std::string expected = serial_error(schema);
    ASSERT_NE(expected.find("early_"), std::string::npos) << expected;
    for (const std::string& message : errors_on_ranks(schema, 3)) EXPECT_EQ(expected, message);
}

// Whole-table checks over joined rows: missing cells listed in file order across slices.
TEST(SlicedTableLoaderTest, MissingCellsAreListedAsOneProcessListsThem) {
    json data = data_config(write_temp("sliced_missing.csv", random_csv(300, 8, false)));
    data["missing"] = "error";
    const DataSchema schema = schema_of(data);
    const std::string expected = serial_error(schema);
    ASSERT_NE(expected.find("missing or non-finite feature cells"), std::string::npos);
    for (const std::string& message : errors_on_ranks(schema, 3)) EXPECT_EQ(expected, message);
}

TEST(SlicedTableLoaderTest, MoreRanksThanRowsAndFilesWithoutRows) {
    const std::string tiny = write_temp("sliced_tiny.csv",
                                        "uid,arm,value,cost,visit,p,age,city,member,note\n"
                                        "1,ctl,1,0,0,0.5,20,x,1,\n2,a,0,2,1,0.5,30,y,0,\n"
                                        "3,b,1,4,1,0.5,40,x,1,\n");
    const DataSchema schema = schema_of(data_config(tiny));
    const RawTable serial = load_table(schema);
    same_on_ranks(schema, serial, 6);

    const std::string header = "uid,arm,value,cost,visit,p,age,city,member,note\n";
    for (const std::string& content : {std::string(""), header, header + "\n\n"}) {
        const DataSchema empty = schema_of(data_config(write_temp("sliced_empty.csv", content)));
        const std::string expected = serial_error(empty);
        ASSERT_NE(expected.find(content.empty() ? "the file is empty" : "no data rows"),
                  std::string::npos)
            << expected;
        for (const std::string& message : errors_on_ranks(empty, 3)) EXPECT_EQ(expected, message);
    }
}

TEST(SlicedTableLoaderTest, GzipFilesAreReadWholeOnEveryRank) {
    const std::string text = random_csv(200, 10);
    const std::string path = ::testing::TempDir() + "sliced.csv.gz";
    gzFile file = gzopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(gzwrite(file, text.data(), unsigned(text.size())), int(text.size()));
    gzclose(file);
    EXPECT_FALSE(csv_sliceable(path));
    const DataSchema schema = schema_of(data_config(path));
    const RawTable serial = load_table(schema);
    EXPECT_FALSE(same_on_ranks(schema, serial, 2));
}

// The slices cover the file in order, each after a line feed, none before the header's end.
TEST(CsvSlicesTest, SlicesCoverTheFileAndStartOnLines) {
    const std::string text = random_csv(200, 11);
    const std::string path = write_temp("slices_cover.csv", text);
    const int64_t header_end = int64_t(text.find('\n') + 1);
    for (int slices : {1, 2, 7, 50}) {
        int64_t expected_begin = 0;
        int64_t feeds = 0;
        for (int k = 0; k < slices; ++k) {
            const ByteSlice slice = csv_byte_slice(path, k, slices, header_end);
            EXPECT_EQ(slice.begin, expected_begin);
            EXPECT_LE(slice.begin, slice.end);
            if (k > 0) EXPECT_GE(slice.begin, header_end);
            if (slice.begin > 0) EXPECT_EQ(text[size_t(slice.begin - 1)], '\n');
            feeds += count_line_feeds(path, slice);
            expected_begin = slice.end;
        }
        EXPECT_EQ(expected_begin, int64_t(text.size()));
        EXPECT_EQ(feeds, int64_t(std::count(text.begin(), text.end(), '\n')));
    }
}

TEST(RankGatherTest, RowsComputedInWholeBlocksArriveInRowOrder) {
    for (int ranks : {1, 2, 3, 7}) {
        auto rows = run_on_ranks<std::vector<int64_t>>(ranks, [](Communicator& comm) {
            return rows_over_ranks<int64_t>(
                10, 3, 2, comm, [&](int64_t first, int64_t count, int64_t* out) {
                    EXPECT_EQ(first % 3, 0) << "a run starts on a block boundary";
                    for (int64_t i = 0; i < count; ++i) {
                        out[2 * i] = first + i;
                        out[2 * i + 1] = comm.rank();
                    }
                });
        });
        for (const auto& joined : rows) {
            ASSERT_EQ(joined.size(), 20u);
            for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(joined[size_t(2 * i)], i);
        }
    }
}

TEST(RankGatherTest, BytesStringsAndColumnsArriveInRankOrder) {
    auto joined = run_on_ranks<std::vector<int64_t>>(3, [](Communicator& comm) {
        std::vector<int64_t> mine(size_t(comm.rank() + 1), comm.rank());
        return concatenate_over_ranks(comm, mine);
    });
    for (const auto& column : joined) EXPECT_EQ(column, (std::vector<int64_t>{0, 1, 1, 2, 2, 2}));
    auto strings = run_on_ranks<std::vector<std::vector<std::string>>>(3, [](Communicator& comm) {
        std::vector<std::string> mine;
        for (int i = 0; i < comm.rank(); ++i) mine.push_back(std::string(size_t(i), 'x') + ",");
        return allgather_strings(comm, mine);
    });
    for (const auto& all : strings) {
        ASSERT_EQ(all.size(), 3u);
        EXPECT_TRUE(all[0].empty());
        EXPECT_EQ(all[1], (std::vector<std::string>{","}));
        EXPECT_EQ(all[2], (std::vector<std::string>{",", "x,"}));
    }
}

}  // namespace
}  // namespace ca
