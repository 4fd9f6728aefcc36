// CSV state machine and the block readers (zlib for files, so gzip needs no separate path).
#include "core/csv_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "core/errors.h"

namespace ca {

namespace {
// gzread takes an unsigned int length; keep blocks well inside it.
size_t clamp_block_size(size_t requested) {
    return std::min<size_t>(std::max<size_t>(requested, 1), size_t(1) << 30);
}

struct GzCloser {
    void operator()(gzFile_s* file) const { gzclose(file); }
};
}  // namespace

CsvParser::CsvParser(std::string origin, CsvCallback on_record, int64_t first_line)
    : origin_(std::move(origin)),
      on_record_(std::move(on_record)),
      line_(first_line),
      record_line_(first_line) {}

bool CsvParser::feed(const char* data, size_t size) {
    const char* p = data;
    const char* end = data + size;
    while (p < end && !stopped_) {
        switch (state_) {
            case State::kFieldStart:
                record_started_ = true;
                state_ = State::kUnquoted;
                if (*p == '"') {
                    field_quoted_ = true;
                    quote_line_ = line_;
                    state_ = State::kQuoted;
                    ++p;
                }
                break;
            case State::kUnquoted:
                p = scan_unquoted(p, end);
                break;
            case State::kQuoted:
                p = scan_quoted(p, end);
                break;
            case State::kQuoteInQuoted:
                // A second quote right after one inside a quoted field is an escaped quote.
                if (*p == '"') {
                    buffer_.push_back('"');
                    state_ = State::kQuoted;
                    ++p;
                } else {
                    state_ = State::kAfterQuoted;
                }
                break;
            case State::kAfterQuoted:
                p = after_quote(p);
                break;
            case State::kAfterCr:
                if (*p != '\n')
                    fail(line_,
                         "a carriage return after a closing quote must end "
                         "the line");
                end_record(true);
                ++p;
                break;
        }
    }
    bytes_parsed_ += p - data;
    return !stopped_;
}

const char* CsvParser::scan_unquoted(const char* p, const char* end) {
    const char* stop = p;
    while (stop < end && *stop != ',' && *stop != '\n') ++stop;
    buffer_.append(p, stop);
    if (stop == end) return stop;
    if (*stop == ',') {
        end_field();
    } else {
        size_t field_start = field_ends_.empty() ? 0 : field_ends_.back();
        if (buffer_.size() > field_start && buffer_.back() == '\r') buffer_.pop_back();
        end_record(true);
    }
    return stop + 1;
}

const char* CsvParser::scan_quoted(const char* p, const char* end) {
    const char* stop = p;
    while (stop < end && *stop != '"') {
        if (*stop == '\n') ++line_;
        ++stop;
    }
    buffer_.append(p, stop);
    if (stop == end) return stop;
    state_ = State::kQuoteInQuoted;
    return stop + 1;
}

const char* CsvParser::after_quote(const char* p) {
    switch (*p) {
        case ',':
            end_field();
            break;
        case '\n':
            end_record(true);
            break;
        case '\r':
            state_ = State::kAfterCr;
            break;
        default:
            fail(line_, std::string("unexpected character '") + *p +
                            "' after a closing quote; a quote inside a quoted field must be "
                            "doubled (\"\")");
    }
    return p + 1;
}

void CsvParser::end_field() {
    field_ends_.push_back(buffer_.size());
    field_quoted_ = false;
    state_ = State::kFieldStart;
}

// Called at a line feed that ends a record, and by finish() for a last record without one.
void CsvParser::end_record(bool at_line_feed) {
    field_ends_.push_back(buffer_.size());
    bool blank = field_ends_.size() == 1 && buffer_.empty() && !field_quoted_;
    if (!blank) {
        record_.fields.clear();
        size_t start = 0;
        for (size_t field_end : field_ends_) {
            record_.fields.emplace_back(buffer_.data() + start, field_end - start);
            start = field_end;
        }
        record_.line = record_line_;
        ++records_;
        if (!on_record_(record_)) stopped_ = true;
    }
    buffer_.clear();
    field_ends_.clear();
    field_quoted_ = false;
    record_started_ = false;
    state_ = State::kFieldStart;
    if (at_line_feed) ++line_;
    record_line_ = line_;
}

void CsvParser::finish() {
    if (stopped_) return;
    if (state_ == State::kQuoted) {
        throw InputError(at_location(origin_, quote_line_, long(field_ends_.size() + 1),
                                     "unterminated quoted field (no closing \" before the end "
                                     "of the file)"));
    }
    if (state_ == State::kFieldStart && !record_started_) return;
    if (state_ == State::kUnquoted) {
        size_t field_start = field_ends_.empty() ? 0 : field_ends_.back();
        if (buffer_.size() > field_start && buffer_.back() == '\r') buffer_.pop_back();
    }
    end_record(false);
}

void CsvParser::fail(int64_t line, const std::string& message) const {
    throw InputError(at_location(origin_, line, long(field_ends_.size() + 1), message));
}

int64_t read_csv_text(std::string_view text, const std::string& origin,
                      const CsvCallback& on_record, const CsvReadOptions& options) {
    CsvParser parser(origin, on_record);
    size_t block = clamp_block_size(options.block_size);
    for (size_t offset = 0; offset < text.size(); offset += block) {
        if (!parser.feed(text.data() + offset, std::min(block, text.size() - offset)))
            return parser.records();
    }
    parser.finish();
    return parser.records();
}

int64_t read_csv_file(const std::string& path, const CsvCallback& on_record,
                      const CsvReadOptions& options) {
    errno = 0;
    std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
    if (!file) {
        CA_THROW(InputError, path << ": cannot open the data file: "
                                  << (errno ? std::strerror(errno) : "out of memory"));
    }
    gzbuffer(file.get(), 1u << 20);

    CsvParser parser(path, on_record);
    std::vector<char> block(clamp_block_size(options.block_size));
    while (true) {
        int got = gzread(file.get(), block.data(), static_cast<unsigned>(block.size()));
        if (got < 0) {
            int code = 0;
            const char* message = gzerror(file.get(), &code);
            CA_THROW(InputError, path << ": cannot read the data file: " << message
                                      << (code == Z_ERRNO ? "" : " (corrupt gzip data?)"));
        }
        if (got == 0) break;
        if (!parser.feed(block.data(), static_cast<size_t>(got))) return parser.records();
    }

    // zlib signals a gzip stream cut off before its trailer only through the error state.
    int code = 0;
    const char* message = gzerror(file.get(), &code);
    if (code == Z_BUF_ERROR) {
        CA_THROW(InputError, path << ": the gzip data ends early (truncated file?): " << message);
    }
    parser.finish();
    return parser.records();
}

}  // namespace ca
