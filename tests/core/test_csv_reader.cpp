// CSV reader: RFC 4180 quoting, line ends, blank lines, block boundaries, gzip, errors.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/csv_reader.h"
#include "core/errors.h"

namespace ca {
namespace {

struct Row {
    std::vector<std::string> fields;
    int64_t line = 0;
    bool operator==(const Row& other) const { return fields == other.fields && line == other.line; }
};

std::vector<Row> parse_text(const std::string& text, size_t block_size = 1 << 16) {
    std::vector<Row> rows;
    CsvReadOptions options;
    options.block_size = block_size;
    read_csv_text(
        text, "memory.csv",
        [&](const CsvRecord& record) {
            rows.push_back({{record.fields.begin(), record.fields.end()}, record.line});
            return true;
        },
        options);
    return rows;
}

std::vector<Row> parse_file(const std::string& path) {
    std::vector<Row> rows;
    read_csv_file(path, [&](const CsvRecord& record) {
        rows.push_back({{record.fields.begin(), record.fields.end()}, record.line});
        return true;
    });
    return rows;
}

std::string test_data(const std::string& name) {
    const char* dir = std::getenv("CA_TEST_DATA");
    return std::string(dir ? dir : "tests/data") + "/" + name;
}

std::string write_temp(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + "csv_reader_" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

std::string write_temp_gzip(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + "csv_reader_" + name;
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, content.data(), unsigned(content.size())), int(content.size()));
    gzclose(file);
    return path;
}

std::string error_of(const std::string& text) {
    try {
        parse_text(text);
    } catch (const InputError& error) {
        return error.what();
    }
    return "no error";
}

TEST(CsvReader, QuotedFieldWithNewlineCommaAndDoubledQuotes) {
    // The second record's first field spans lines 2 and 3.
    std::string text = "name,n\n\"x, \"\"y\"\"\nz\",2\nlast,3\n";
    std::vector<Row> expected = {{{"name", "n"}, 1}, {{"x, \"y\"\nz", "2"}, 2}, {{"last", "3"}, 4}};
    EXPECT_EQ(parse_text(text), expected);
}

TEST(CsvReader, CrlfIsStrippedAndLastLineNeedsNoNewline) {
    std::vector<Row> expected = {{{"a", "b"}, 1}, {{"1", "2"}, 2}, {{"3", "4"}, 3}};
    EXPECT_EQ(parse_text("a,b\r\n1,2\r\n3,4"), expected);
    EXPECT_EQ(parse_text("a,b\n1,2\n3,4\n"), expected);
    EXPECT_EQ(parse_text("a,b\r\n1,2\r\n3,4\r\n"), expected);
    // A quoted last field followed by CRLF.
    EXPECT_EQ(parse_text("a,\"b\"\r\n1,2\r\n3,\"4\""), expected);
}

TEST(CsvReader, EmptyFieldsAreKept) {
    std::vector<Row> expected = {{{"a", "", "c"}, 1}, {{"", "", ""}, 2}, {{"x", ""}, 3}};
    EXPECT_EQ(parse_text("a,,c\n,,\nx,"), expected);
}

TEST(CsvReader, BlankLinesAreSkippedAndLinesStillCounted) {
    std::vector<Row> expected = {{{"h"}, 1}, {{"1"}, 3}, {{"2"}, 4}};
    EXPECT_EQ(parse_text("h\n\n1\n2\n\n\r\n\n"), expected);
    // A quoted empty field is data, not a blank line.
    std::vector<Row> quoted_empty = {{{"h"}, 1}, {{""}, 2}};
    EXPECT_EQ(parse_text("h\n\"\"\n"), quoted_empty);
}

TEST(CsvReader, SameRecordsForEveryBlockSize) {
    // Quotes, doubled quotes, CRLF inside and outside quotes, and no final newline, so that
    // small blocks cut every construct at every position.
    std::string text =
        "id,text,n\r\n1,\"a \"\"b\"\", c\",10\r\n2,\"multi\r\nline\",20\r\n\r\n3,plain,\"30\"";
    std::vector<Row> expected = {{{"id", "text", "n"}, 1},
                                 {{"1", "a \"b\", c", "10"}, 2},
                                 {{"2", "multi\r\nline", "20"}, 3},
                                 {{"3", "plain", "30"}, 6}};
    for (size_t block = 1; block <= text.size() + 1; ++block)
        EXPECT_EQ(parse_text(text, block), expected) << "block size " << block;
}

TEST(CsvReader, UnterminatedQuoteNamesLineAndColumn) {
    std::string message = error_of("a,b\n1,\"open\n2,3\n");
    EXPECT_NE(message.find("memory.csv:2:2: unterminated quoted field"), std::string::npos)
        << message;
}

TEST(CsvReader, TextAfterClosingQuoteIsAnError) {
    std::string message = error_of("a,b\n\"x\"y,2\n");
    EXPECT_NE(message.find("memory.csv:2:1:"), std::string::npos) << message;
    EXPECT_NE(message.find("after a closing quote"), std::string::npos) << message;
}

TEST(CsvReader, CallbackCanStopReading) {
    int seen = 0;
    int64_t delivered =
        read_csv_text("h\n1\n2\n3\n", "memory.csv", [&](const CsvRecord&) { return ++seen < 2; });
    EXPECT_EQ(seen, 2);
    EXPECT_EQ(delivered, 2);
}

TEST(CsvReader, GzipFileGivesTheSameRecordsAsPlain) {
    std::string text = "a,b\n\"q,1\",2\n3,\"x\ny\"\n";
    for (int i = 0; i < 2000; ++i) text += std::to_string(i) + ",\"v" + std::to_string(i) + "\"\n";
    std::vector<Row> plain = parse_file(write_temp("plain.csv", text));
    // The .csv name on gzip data: detection goes by content, not by suffix.
    std::vector<Row> gzip = parse_file(write_temp_gzip("packed.csv", text));
    ASSERT_EQ(plain.size(), 2003u);
    EXPECT_EQ(plain, gzip);
    EXPECT_EQ(plain, parse_text(text));
}

TEST(CsvReader, TruncatedGzipIsAnError) {
    std::string text;
    for (int i = 0; i < 5000; ++i) text += std::to_string(i * 7919) + ",row\n";
    std::string path = write_temp_gzip("whole.csv.gz", text);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string cut_path = write_temp("cut.csv.gz", bytes.substr(0, bytes.size() / 2));
    try {
        parse_file(cut_path);
        FAIL() << "a truncated gzip file was read without error";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("cut.csv.gz"), std::string::npos) << error.what();
    }
}

TEST(CsvReader, MissingFileNamesThePath) {
    try {
        parse_file("/nonexistent/dir/data.csv");
        FAIL() << "no error for a missing file";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("/nonexistent/dir/data.csv"), std::string::npos);
    }
}

TEST(CsvReader, HillstromQuotedCommasGiveTwelveFields) {
    std::vector<Row> rows = parse_file(test_data("BC-11.csv"));
    ASSERT_EQ(rows.size(), 7u);
    for (const Row& row : rows) EXPECT_EQ(row.fields.size(), 12u) << "line " << row.line;
    EXPECT_EQ(rows[1].fields[1], "6) $750 - $1,000");
    EXPECT_EQ(rows[3].fields[1], "7) $1,000 +");
    EXPECT_EQ(rows[3].line, 4);
}

TEST(CsvReader, CrlfWithoutFinalNewlineMatchesLfFile) {
    std::vector<Row> crlf = parse_file(test_data("BC-09.csv"));
    std::vector<Row> lf = parse_file(test_data("BC-09-lf.csv"));
    ASSERT_EQ(crlf.size(), 5u);
    EXPECT_EQ(crlf, lf);
    EXPECT_EQ(crlf.back().fields.back(), "1");
}

}  // namespace
}  // namespace ca
