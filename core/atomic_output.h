// Writing outputs so that nothing is ever half-written: files go to a temporary name and are
// renamed when complete; a run's folder is staged beside its final name and renamed last.
#pragma once

#include <string>

namespace ca {

/// Writes content to path + ".tmp-<pid>", flushes, then renames onto path.
void write_file_atomically(const std::string& path, const std::string& content);

/// A folder staged as "<final>.partial-<pid>"; commit() renames it onto the final name
/// (replacing an older folder of that name). Destroyed uncommitted, the staging folder is
/// removed, so a failed run leaves nothing that looks like a result.
class StagedDirectory {
public:
    explicit StagedDirectory(std::string final_path);
    ~StagedDirectory();
    StagedDirectory(const StagedDirectory&) = delete;
    StagedDirectory& operator=(const StagedDirectory&) = delete;

    /// Path of a file inside the staging folder.
    std::string path(const std::string& name) const;
    void write(const std::string& name, const std::string& content) const;
    void commit();
    const std::string& final_path() const { return final_path_; }

private:
    std::string final_path_;
    std::string staging_path_;
    bool committed_ = false;
};

}  // namespace ca
