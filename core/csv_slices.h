// Byte ranges of a plain CSV file for ranks to read side by side, cut right after line feeds;
// each slice's reader says whether it ended between records, since a line feed inside a quoted
// field cannot be told apart here (the caller then reads the file whole).
#pragma once

#include <cstdint>
#include <string>

#include "core/csv_reader.h"

namespace ca {

// Bytes [begin, end) of a file.
struct ByteSlice {
    int64_t begin = 0;
    int64_t end = 0;
};

/// True for a file the slices can cut: a regular file of plain bytes, not gzip and not a pipe
/// (which only read from the start). InputError naming the path when it cannot be opened.
bool csv_sliceable(const std::string& path);

/// Slice `index` of `slices`: from just past the first line feed at or after
/// index * size / slices to the same point of the next slice (the file's ends for the first
/// and last), no cut before header_end, so the header lies whole in the first slice. Slices
/// are disjoint, in file order, cover the file, and may be empty.
ByteSlice csv_byte_slice(const std::string& path, int index, int slices, int64_t header_end);

/// Line feeds in the slice (each one moves the file line number on by one).
int64_t count_line_feeds(const std::string& path, const ByteSlice& slice);

/// Delivers the file's first record (the header) only; returns the byte where it ends (0
/// for an empty file).
int64_t read_csv_header(const std::string& path, const CsvCallback& on_record);

/// Parses the slice, numbering its lines from first_line, and delivers each record; a last
/// record without a line end is delivered only when the slice reaches the end of the file.
/// Returns whether the slice ended between records (always true for the file's last slice,
/// whose open quoted field is an InputError as for a whole file).
bool read_csv_slice(const std::string& path, const ByteSlice& slice, int64_t first_line,
                    const CsvCallback& on_record);

}  // namespace ca
