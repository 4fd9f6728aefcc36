// Streaming RFC 4180 CSV reader, plain or gzip, calling back once per record.
// Fields are string_views into one reused record buffer, so reading allocates per record only
// when a record is longer than any before it; views are valid during the callback only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ca {

// One parsed record. Quotes are removed and doubled quotes ("") collapsed to one.
struct CsvRecord {
    std::vector<std::string_view> fields;  ///< valid only during the callback
    int64_t line = 0;                      ///< 1-based file line where the record starts
};

// Return false to stop reading after this record.
using CsvCallback = std::function<bool(const CsvRecord& record)>;

struct CsvReadOptions {
    /// Bytes read per block; tests shrink it to put records across block boundaries.
    size_t block_size = size_t(1) << 22;
};

// Reads a CSV file and calls on_record for each record, header included. Returns the number of
// records delivered. Gzip input is detected by its magic bytes (zlib's transparent mode), so
// plain and .gz files take the same path whatever their names.
//
// Accepted: LF or CRLF line ends (a \r before the \n is dropped), a last record without a line
// end, quoted fields holding commas, doubled quotes and line breaks. Empty lines are skipped
// wherever they occur; they hold no data, and a ragged-row error for them would only confuse.
// A quote inside an unquoted field is kept as an ordinary character.
// Errors (InputError, "path:line:col: ..." with col the 1-based field index): an unterminated
// quoted field, text after a closing quote, a file that cannot be opened or decompressed.
int64_t read_csv_file(const std::string& path, const CsvCallback& on_record,
                      const CsvReadOptions& options = {});

// The same parser over text in memory; origin stands in for the path in messages.
int64_t read_csv_text(std::string_view text, const std::string& origin,
                      const CsvCallback& on_record, const CsvReadOptions& options = {});

// The incremental parser behind both readers: feed it blocks of any size, then finish().
class CsvParser {
  public:
    /// first_line numbers the first byte fed: 1 at the start of a file, more for a slice.
    CsvParser(std::string origin, CsvCallback on_record, int64_t first_line = 1);

    /// Parses a block; returns false once the callback asked to stop.
    bool feed(const char* data, size_t size);
    /// Delivers a last record that has no line end; throws on an open quoted field.
    void finish();
    int64_t records() const { return records_; }
    /// Bytes parsed so far; after the callback stopped the reading, the end of that record.
    int64_t bytes_parsed() const { return bytes_parsed_; }
    /// True when every byte fed so far belongs to a delivered record (or a blank line):
    /// the input was cut right after a record, not inside one.
    bool between_records() const {
        return state_ == State::kFieldStart && !record_started_ && buffer_.empty();
    }

  private:
    enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kAfterQuoted, kAfterCr };

    const char* scan_unquoted(const char* p, const char* end);
    const char* scan_quoted(const char* p, const char* end);
    const char* after_quote(const char* p);
    void end_field();
    void end_record(bool at_line_feed);
    [[noreturn]] void fail(int64_t line, const std::string& message) const;

    std::string origin_;
    CsvCallback on_record_;
    State state_ = State::kFieldStart;
    std::string buffer_;              ///< unescaped bytes of the current record
    std::vector<size_t> field_ends_;  ///< end offset of each finished field in buffer_
    CsvRecord record_;
    bool record_started_ = false;
    bool field_quoted_ = false;
    int64_t line_ = 1;         ///< line of the byte being parsed
    int64_t record_line_ = 1;  ///< line where the current record started
    int64_t quote_line_ = 0;   ///< line where the open quoted field started
    int64_t records_ = 0;
    int64_t bytes_parsed_ = 0;
    bool stopped_ = false;
};

}  // namespace ca
