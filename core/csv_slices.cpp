// Byte-range reading of plain CSV files with stdio (fseeko and ftello take 64-bit offsets).
#include "core/csv_slices.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/errors.h"

namespace ca {

namespace {

constexpr size_t kBlockBytes = size_t(1) << 22;

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_file(const std::string& path) {
    errno = 0;
    File file(std::fopen(path.c_str(), "rb"));
    if (!file) {
        CA_THROW(InputError, path << ": cannot open the data file: "
                                  << (errno ? std::strerror(errno) : "unknown error"));
    }
    return file;
}

void seek(std::FILE* file, const std::string& path, int64_t offset) {
    if (fseeko(file, off_t(offset), SEEK_SET) != 0)
        CA_THROW(InputError,
                 path << ": cannot seek to byte " << offset << ": " << std::strerror(errno));
}

int64_t file_size(std::FILE* file, const std::string& path) {
    if (fseeko(file, 0, SEEK_END) != 0)
        CA_THROW(InputError, path << ": cannot seek: " << std::strerror(errno));
    return int64_t(ftello(file));
}

// Reads up to `size` bytes; an I/O error (not the end of the file) is an InputError.
size_t read_block(std::FILE* file, const std::string& path, char* into, size_t size) {
    size_t got = std::fread(into, 1, size, file);
    if (got < size && std::ferror(file))
        CA_THROW(InputError, path << ": cannot read the data file: " << std::strerror(errno));
    return got;
}

// Just past the first line feed at or after offset; the file's size when there is none.
int64_t cut_after(std::FILE* file, const std::string& path, int64_t offset, int64_t size) {
    if (offset <= 0) return 0;
    if (offset >= size) return size;
    seek(file, path, offset);
    std::vector<char> block(1 << 16);
    int64_t at = offset;
    while (at < size) {
        size_t got = read_block(file, path, block.data(), block.size());
        if (got == 0) break;
        const void* feed = std::memchr(block.data(), '\n', got);
        if (feed) return at + (static_cast<const char*>(feed) - block.data()) + 1;
        at += int64_t(got);
    }
    return size;
}

// Calls visit(bytes, count) for each block of the slice.
template <typename Visit>
void for_each_block(const std::string& path, const ByteSlice& slice, Visit visit) {
    File file = open_file(path);
    seek(file.get(), path, slice.begin);
    std::vector<char> block(kBlockBytes);
    int64_t left = slice.end - slice.begin;
    while (left > 0) {
        size_t want = size_t(std::min<int64_t>(left, int64_t(block.size())));
        size_t got = read_block(file.get(), path, block.data(), want);
        if (got == 0) CA_THROW(InputError, path << ": the file shrank while it was read");
        if (!visit(block.data(), got)) return;
        left -= int64_t(got);
    }
}

}  // namespace

bool csv_sliceable(const std::string& path) {
    // Pipes and other streams have no offsets to cut at; they are read whole.
    struct stat status;
    if (stat(path.c_str(), &status) != 0 || !S_ISREG(status.st_mode)) return false;
    File file = open_file(path);
    unsigned char magic[2] = {0, 0};
    size_t got = std::fread(magic, 1, 2, file.get());
    return !(got == 2 && magic[0] == 0x1f && magic[1] == 0x8b);
}

ByteSlice csv_byte_slice(const std::string& path, int index, int slices, int64_t header_end) {
    CA_ASSERT(slices > 0 && index >= 0 && index < slices);
    File file = open_file(path);
    const int64_t size = file_size(file.get(), path);
    auto cut = [&](int k) {
        if (k == 0) return int64_t(0);
        if (k == slices) return size;
        int64_t offset = int64_t(double(size) * k / slices);
        return std::max(cut_after(file.get(), path, offset, size), header_end);
    };
    return ByteSlice{cut(index), cut(index + 1)};
}

int64_t count_line_feeds(const std::string& path, const ByteSlice& slice) {
    int64_t feeds = 0;
    for_each_block(path, slice, [&feeds](const char* bytes, size_t count) {
        feeds += std::count(bytes, bytes + count, '\n');
        return true;
    });
    return feeds;
}

int64_t read_csv_header(const std::string& path, const CsvCallback& on_record) {
    CsvParser parser(path, [&on_record](const CsvRecord& record) {
        on_record(record);
        return false;
    });
    File file = open_file(path);
    std::vector<char> block(1 << 16);
    while (size_t got = read_block(file.get(), path, block.data(), block.size())) {
        if (!parser.feed(block.data(), got)) return parser.bytes_parsed();
    }
    parser.finish();
    return parser.bytes_parsed();
}

bool read_csv_slice(const std::string& path, const ByteSlice& slice, int64_t first_line,
                    const CsvCallback& on_record) {
    CsvParser parser(path, on_record, first_line);
    for_each_block(path, slice, [&parser](const char* bytes, size_t count) {
        return parser.feed(bytes, count);
    });
    File file = open_file(path);
    if (slice.end < file_size(file.get(), path)) return parser.between_records();
    parser.finish();
    return true;
}

}  // namespace ca
