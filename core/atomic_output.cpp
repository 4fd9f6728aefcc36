// Temporary-name-then-rename writers for files and run folders.
#include "core/atomic_output.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.h"

namespace ca {

namespace fs = std::filesystem;

void write_file_atomically(const std::string& path, const std::string& content) {
    std::string temporary = path + ".tmp-" + std::to_string(getpid());
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) CA_THROW(InputError, path << ": cannot write (" << std::strerror(errno) << ")");
        out.write(content.data(), std::streamsize(content.size()));
        out.flush();
        if (!out) {
            std::remove(temporary.c_str());
            CA_THROW(InputError, path << ": write failed (disk full?)");
        }
    }
    std::error_code error;
    fs::rename(temporary, path, error);
    if (error) {
        std::remove(temporary.c_str());
        CA_THROW(InputError, path << ": cannot rename the finished file into place: "
                                  << error.message());
    }
}

StagedDirectory::StagedDirectory(std::string final_path) : final_path_(std::move(final_path)) {
    while (final_path_.size() > 1 && final_path_.back() == '/') final_path_.pop_back();
    staging_path_ = final_path_ + ".partial-" + std::to_string(getpid());
    std::error_code error;
    fs::remove_all(staging_path_, error);
    fs::create_directories(staging_path_, error);
    if (error)
        CA_THROW(InputError, staging_path_ << ": cannot create output folder: " << error.message());
}

StagedDirectory::~StagedDirectory() {
    if (committed_) return;
    std::error_code error;
    fs::remove_all(staging_path_, error);
}

std::string StagedDirectory::path(const std::string& name) const {
    return staging_path_ + "/" + name;
}

void StagedDirectory::write(const std::string& name, const std::string& content) const {
    write_file_atomically(path(name), content);
}

void StagedDirectory::commit() {
    std::error_code error;
    fs::path parent = fs::path(final_path_).parent_path();
    if (!parent.empty()) fs::create_directories(parent, error);
    if (fs::exists(final_path_)) {
        // Move the old result aside first so that the final name is never half old, half new.
        std::string old = final_path_ + ".old-" + std::to_string(getpid());
        fs::rename(final_path_, old, error);
        if (error) CA_THROW(InputError, final_path_ << ": cannot replace: " << error.message());
        fs::rename(staging_path_, final_path_, error);
        fs::remove_all(old);
    } else {
        fs::rename(staging_path_, final_path_, error);
    }
    if (error) CA_THROW(InputError, final_path_ << ": cannot move results into place: "
                                                << error.message());
    committed_ = true;
}

}  // namespace ca
