// Sweeps and comparisons through the command line: every cell written once, an interrupted
// sweep resumes with only the missing cells, and a comparison skips a dataset without its file.
#include <gtest/gtest.h>

#include <filesystem>

#include "e2e/run_binary.h"

namespace ca {
namespace {

namespace fs = std::filesystem;
using testing::fresh_directory;
using testing::run_clusteralloc;
using testing::write_text;

// A base config small enough that one cell takes well under a second.
std::string tiny_base() {
    return R"({
      "name": "tiny",
      "data": {"source": "synthetic",
               "synthetic": {"rows": 2000, "features": 6, "arms": 3, "seed": 3}},
      "network": {"hidden1": 16, "hidden2": 8, "head_hidden": 8, "max_epochs": 2},
      "kmeans": {"k": 4},
      "evaluation": {"seeds": 1, "budget_levels": 3, "methods": ["HRC", "TSM-SL"],
                     "oracle": false}
    })";
}

size_t files_in(const fs::path& folder) {
    size_t count = 0;
    for (auto& entry : fs::directory_iterator(folder)) count += entry.is_regular_file() ? 1 : 0;
    return count;
}

TEST(SweepCommandTest, WritesEveryCellAndResumesOnlyMissingOnes) {
    fs::path root = fresh_directory("e2e_sweep");
    std::string base = write_text(root / "base.json", tiny_base());
    std::string sweep = write_text(root / "sweep.json", R"({
      "name": "tiny_sweep", "base": ")" + base + R"(", "seeds": 2,
      "grid": {"kmeans.k": [2, 4], "data.synthetic.label_noise": [0, 10]}
    })");
    fs::path out = root / "out";
    auto first = run_clusteralloc("sweep --config " + sweep + " --out " + out.string());
    ASSERT_EQ(first.exit_code, 0) << first.output;
    // 2 values of K x 2 noise levels x 2 seeds.
    EXPECT_EQ(files_in(out / "cells"), 8u);
    EXPECT_NE(first.output.find("8 cells evaluated, 0 already done"), std::string::npos)
        << first.output;
    for (const char* file : {"summary.md", "sweep.csv", "eom_vs_k.svg", "eom_vs_label_noise.svg"})
        EXPECT_TRUE(fs::exists(out / file)) << file;

    // An interruption loses at most the cell in flight: remove one and run again. Axes appear
    // in the cell name in sorted key order.
    ASSERT_TRUE(
        fs::remove(out / "cells" / "data.synthetic.label_noise=10__kmeans.k=4__seed=1.json"));
    auto second = run_clusteralloc("sweep --config " + sweep + " --out " + out.string());
    ASSERT_EQ(second.exit_code, 0) << second.output;
    EXPECT_NE(second.output.find("1 cells evaluated, 7 already done"), std::string::npos)
        << second.output;
    EXPECT_EQ(files_in(out / "cells"), 8u);
}

TEST(SweepCommandTest, BadGridKeyFailsBeforeAnyCellRuns) {
    fs::path root = fresh_directory("e2e_sweep_bad");
    std::string base = write_text(root / "base.json", tiny_base());
    std::string sweep = write_text(root / "sweep.json", R"({
      "name": "bad", "base": ")" + base + R"(", "grid": {"kmeans.kk": [2, 4]}
    })");
    auto result = run_clusteralloc("sweep --config " + sweep + " --out " + (root / "o").string());
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.output.find("kmeans.kk"), std::string::npos) << result.output;
    EXPECT_FALSE(fs::exists(root / "o" / "cells"));
}

TEST(SweepCommandTest, CudaWithoutADeviceFailsBeforeAnyCellRuns) {
    fs::path root = fresh_directory("e2e_sweep_cuda");
    std::string base = write_text(root / "base.json", tiny_base());
    std::string sweep = write_text(root / "sweep.json", R"({
      "name": "cuda", "base": ")" + base + R"(", "seeds": 1, "grid": {"kmeans.k": [2, 4]}
    })");
    auto result = run_clusteralloc("sweep --config " + sweep + " --device cuda --out " +
                                   (root / "o").string());
    if (result.exit_code == 0) GTEST_SKIP() << "a CUDA device is present";
    bool no_backend = result.output.find("no CUDA backend") != std::string::npos;
    bool no_device = result.output.find("no CUDA device is visible") != std::string::npos;
    EXPECT_TRUE(no_backend || no_device) << result.output;
    EXPECT_FALSE(fs::exists(root / "o" / "cells"));
}

TEST(CompareCommandTest, SkipsADatasetWhoseFileIsAbsent) {
    fs::path root = fresh_directory("e2e_compare");
    std::string base = write_text(root / "base.json", tiny_base());
    std::string missing = write_text(root / "missing.json", R"({
      "name": "criteo_like", "data": {"source": "criteo", "path": ")" +
                                                    (root / "absent.csv").string() + R"("}})");
    std::string compare = write_text(root / "compare.json", R"({
      "name": "tiny_compare", "seeds": 2, "methods": ["HRC", "TSM-SL", "random"],
      "datasets": [{"config": ")" + base + R"("}, {"config": ")" + missing + R"("}]
    })");
    fs::path out = root / "out";
    auto result = run_clusteralloc("compare --config " + compare + " --out " + out.string());
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_TRUE(fs::exists(out / "tiny" / "budget_curve.svg"));
    EXPECT_TRUE(fs::exists(out / "tiny" / "summary.md"));
    EXPECT_NE(result.output.find("absent.csv"), std::string::npos) << result.output;
    std::ifstream summary(out / "summary.md");
    std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("Skipped"), std::string::npos);
    EXPECT_NE(text.find("p="), std::string::npos) << "paired p-values with two seeds";
}

}  // namespace
}  // namespace ca
