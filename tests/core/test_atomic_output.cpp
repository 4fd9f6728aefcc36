// Outputs are never half-written: staged folders vanish unless committed, files appear whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_output.h"

namespace ca {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

fs::path fresh_folder(const std::string& name) {
    fs::path root = fs::path(::testing::TempDir()) / name;
    fs::remove_all(root);
    fs::create_directories(root);
    return root;
}

TEST(AtomicOutputTest, FileIsWrittenWholeWithoutTemporaryLeftBehind) {
    fs::path root = fresh_folder("atomic_file");
    std::string path = (root / "table.csv").string();
    write_file_atomically(path, "a,b\n1,2\n");
    EXPECT_EQ(read_all(path), "a,b\n1,2\n");
    int entries = 0;
    for (auto& entry : fs::directory_iterator(root)) entries += entry.is_regular_file();
    EXPECT_EQ(entries, 1);
}

TEST(AtomicOutputTest, UncommittedFolderLeavesNothing) {
    fs::path root = fresh_folder("atomic_abort");
    std::string final_path = (root / "run").string();
    {
        StagedDirectory staged(final_path);
        staged.write("metrics.json", "{}");
        // Destroyed without commit: as when a stage throws halfway through a run.
    }
    EXPECT_FALSE(fs::exists(final_path));
    EXPECT_TRUE(fs::is_empty(root));
}

TEST(AtomicOutputTest, CommitReplacesAnOlderResult) {
    fs::path root = fresh_folder("atomic_replace");
    std::string final_path = (root / "run").string();
    {
        StagedDirectory first(final_path);
        first.write("old.txt", "old");
        first.commit();
    }
    {
        StagedDirectory second(final_path);
        second.write("new.txt", "new");
        second.commit();
    }
    EXPECT_FALSE(fs::exists(root / "run" / "old.txt"));
    EXPECT_EQ(read_all((root / "run" / "new.txt").string()), "new");
    int entries = 0;
    for (auto& entry : fs::directory_iterator(root)) entries += 1 + 0 * entry.is_directory();
    EXPECT_EQ(entries, 1);
}

}  // namespace
}  // namespace ca
