// Two MPI ranks through the command line: `mpirun -np 2 clusteralloc run` and the same config
// in one process give the same clusters and budget curve, only rank 0 prints and writes, and a
// rank that fails ends the whole job without leaving an output folder. MPI stays on this
// machine: shared memory between the ranks, loopback for the launcher's own traffic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "core/communicator.h"
#include "e2e/mpi_launch.h"
#include "e2e/run_binary.h"

namespace ca {
namespace {

namespace fs = std::filesystem;
using namespace mpi_test;
using testing::CommandResult;
using testing::fresh_directory;
using testing::read_json;
using testing::read_text;
using testing::write_text;

// 4,000 users, 3 arms, a small network and K = 8: a few seconds per run.
std::string synthetic_config() {
    return R"({
      "name": "ranks_synthetic",
      "data": {"source": "synthetic",
               "synthetic": {"rows": 4000, "features": 6, "arms": 3, "seed": 5, "segments": 4}},
      "network": {"hidden1": 32, "hidden2": 16, "head_hidden": 16, "max_epochs": 6,
                  "patience": 6, "batch_size": 256, "learning_rate": 0.003},
      "kmeans": {"k": 8},
      "evaluation": {"seeds": 1, "budget_levels": 5, "methods": ["HRC", "TSM-SL", "random"],
                     "oracle": false}
    })";
}

TEST(RanksMpiRunTest, TwoRanksMatchOneProcess) {
    expect_two_ranks_equal_one_process(synthetic_config(), "e2e_mpi_ranks");
}

// 64,000 users, the default network, K = 64: large enough that a sum taken in another order
// would move k-means to another optimum (as it did before the sums had a fixed order).
TEST(RanksMpiRunTest, TwoRanksMatchOneProcessOn64kSyntheticUsers) {
    expect_two_ranks_equal_one_process(R"({
      "name": "ranks_synthetic_64k",
      "data": {"source": "synthetic",
               "synthetic": {"rows": 64000, "features": 12, "arms": 5, "seed": 2}},
      "network": {"max_epochs": 3, "patience": 3},
      "kmeans": {"k": 64},
      "evaluation": {"seeds": 1, "budget_levels": 10, "methods": ["HRC", "TSM-SL", "random"],
                     "oracle": false}
    })",
                                       "e2e_mpi_synthetic_64k");
}

// A CSV RCT with a treatment column and 0/1 value and cost; enough rows to start training.
std::string write_rct_csv(const fs::path& path) {
    std::mt19937_64 engine(3);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::ostringstream csv;
    csv << "f0,f1,treatment,conversion,visit\n";
    for (int i = 0; i < 3000; ++i) {
        double f0 = uniform(engine), f1 = uniform(engine);
        int treated = uniform(engine) < 0.5;
        int visit = uniform(engine) < 0.2 + 0.3 * treated * f0;
        int conversion = visit && uniform(engine) < 0.3 + 0.4 * f1;
        csv << f0 << ',' << f1 << ',' << treated << ',' << conversion << ',' << visit << '\n';
    }
    return write_text(path, csv.str());
}

std::string rct_config(const std::string& data_object) {
    return R"({
      "name": "ranks_from_file",
      "data": )" +
           data_object + R"(,
      "network": {"hidden1": 32, "hidden2": 16, "head_hidden": 16, "max_epochs": 5,
                  "patience": 5, "batch_size": 256},
      "kmeans": {"k": 6},
      "evaluation": {"seeds": 1, "budget_levels": 5, "methods": ["HRC", "TSM-SL", "random"]}
    })";
}

std::string csv_data_object(const std::string& path) {
    return R"({"source": "csv", "path": ")" + path + R"(",
               "treatment": {"column": "treatment", "arms": ["0", "1"]},
               "value": {"column": "conversion"}, "cost": {"column": "visit"},
               "features": [{"column": "f0", "type": "numeric"},
                            {"column": "f1", "type": "numeric"}]})";
}

// Each rank parses its own byte slice of the CSV; the joined table, and so the run, is the
// one-process one.
TEST(RanksMpiRunTest, TwoRanksReadingSlicesOfACsvMatchOneProcess) {
    fs::path data = fresh_directory("e2e_mpi_csv_data");
    std::string csv = write_rct_csv(data / "rct.csv");
    expect_two_ranks_equal_one_process(rct_config(csv_data_object(csv)), "e2e_mpi_csv");
}

// Each rank reads its own block of rows of the stored file (hyperslabs of every column).
TEST(RanksMpiRunTest, TwoRanksReadingRowBlocksOfAnHdf5FileMatchOneProcess) {
    REQUIRE_MPIRUN(mpirun);
    fs::path data = fresh_directory("e2e_mpi_hdf5_data");
    std::string csv = write_rct_csv(data / "rct.csv");
    std::string csv_config = write_text(data / "csv.json", rct_config(csv_data_object(csv)));
    fs::path stored = data / "rct.h5";
    CommandResult converted = run_shell(binary() + " convert --quiet --config " + csv_config +
                                        " --chunk 700 --out " + stored.string());
    ASSERT_EQ(converted.exit_code, 0) << converted.output;
    expect_two_ranks_equal_one_process(
        rct_config(R"({"source": "hdf5", "path": ")" + stored.string() + R"("})"), "e2e_mpi_hdf5");
}

// `compare` under mpirun: every dataset's run is shared by the ranks; every method, the
// baselines included, gives the one-process curves, and rank 0 alone writes.
TEST(RanksMpiRunTest, TwoRankCompareMatchesOneProcess) {
    REQUIRE_MPIRUN(mpirun);
    fs::path root = fresh_directory("e2e_mpi_compare");
    std::string csv = write_rct_csv(root / "rct.csv");
    std::string binary_config = write_text(root / "rct.json", rct_config(csv_data_object(csv)));
    std::string synthetic = write_text(root / "synthetic.json", synthetic_config());
    std::string compare = write_text(root / "compare.json", R"({
      "name": "ranks_compare", "seeds": 1,
      "methods": ["HRC", "TSM-SL", "TSM-CF", "DRP", "DRM", "DFCL-PL", "DFCL-IFD", "random"],
      "overrides": {"evaluation": {"budget_levels": 4}, "distillation": {"epochs": 3}},
      "datasets": [{"config": ")" + binary_config + R"("}, {"config": ")" +
                                                                synthetic + R"("}]
    })");
    fs::path one = root / "one", two = root / "two";
    const std::string command = binary() + " compare --config " + compare + " --epochs 3 --out ";
    CommandResult single =
        run_shell(without_job_variables() + "OMP_NUM_THREADS=2 " + command + one.string());
    ASSERT_EQ(single.exit_code, 0) << single.output;
    CommandResult ranks = run_shell(mpirun_options(mpirun) + "-np 2 " + command + two.string());
    ASSERT_EQ(ranks.exit_code, 0) << ranks.output;

    EXPECT_EQ(occurrences(ranks.output, "wrote "), 1u) << ranks.output;
    EXPECT_EQ(printed_table(ranks.output), printed_table(single.output));
    EXPECT_EQ(read_json(two / "run_info.json")["ranks"], 2);
    for (const char* dataset : {"ranks_from_file", "ranks_synthetic"}) {
        EXPECT_EQ(read_text(two / dataset / "budget_curve.csv"),
                  read_text(one / dataset / "budget_curve.csv"))
            << dataset;
        EXPECT_EQ(read_text(two / dataset / "cluster_table.csv"),
                  read_text(one / dataset / "cluster_table.csv"))
            << dataset;
    }
}

TEST(RanksMpiRunTest, FailingRankEndsTheJobAndLeavesNoOutput) {
    // Rank 1 is given a data file that does not exist; rank 0 starts reading its slice of the
    // real one and waits for rank 1 at the first exchange. Rank 1's error must end both.
    REQUIRE_MPIRUN(mpirun);
    fs::path root = fresh_directory("e2e_mpi_failing_rank");
    std::string data = write_rct_csv(root / "rct.csv");
    std::string config = write_text(root / "config.json", R"({
      "name": "ranks_failing",
      "data": {"source": "csv", "path": "unused.csv",
               "treatment": {"column": "treatment", "arms": ["0", "1"]},
               "value": {"column": "conversion"}, "cost": {"column": "visit"},
               "features": [{"column": "f0", "type": "numeric"},
                            {"column": "f1", "type": "numeric"}]},
      "network": {"hidden1": 16, "hidden2": 8, "head_hidden": 8, "max_epochs": 50},
      "kmeans": {"k": 4},
      "evaluation": {"seeds": 1, "budget_levels": 3, "methods": ["HRC"]}
    })");
    fs::path out = root / "out";
    std::string run = binary() + " run --config " + config + " --out " + out.string();
    fs::path missing = root / "missing.csv";
    CommandResult result = run_shell(mpirun_options(mpirun) + "-np 1 " + run + " --data " + data +
                                     " : -np 1 " + run + " --data " + missing.string());

    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("rank 1: "), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("missing.csv"), std::string::npos) << result.output;
    EXPECT_FALSE(fs::exists(out)) << "a failed job must not leave a result folder";
    for (const auto& entry : fs::directory_iterator(root))
        EXPECT_EQ(entry.path().filename().string().find("out."), std::string::npos)
            << "staging left behind: " << entry.path();
}

// A rank killed mid-run (SIGKILL: nothing of it can clean up) ends the whole job with a
// non-zero status and a message naming it, and the survivors leave no output folder.
TEST(RanksMpiRunTest, KilledRankEndsTheJobAndLeavesNoOutput) {
    REQUIRE_MPIRUN(mpirun);
    fs::path root = fresh_directory("e2e_mpi_killed_rank");
    std::string config = write_text(root / "config.json", R"({
      "name": "ranks_killed",
      "data": {"source": "synthetic",
               "synthetic": {"rows": 64000, "features": 12, "arms": 5, "seed": 2}},
      "network": {"max_epochs": 200, "patience": 200},
      "kmeans": {"k": 64},
      "evaluation": {"seeds": 1, "budget_levels": 5, "methods": ["HRC"]}
    })");
    fs::path out = root / "out";
    std::string run = binary() + " run --config " + config + " --out " + out.string();
    // Rank 1 runs under a script that kills it with SIGKILL after a second (while it loads,
    // trains or clusters: 200 epochs take far longer).
    std::string killer = write_text(root / "kill_rank.sh", run +
                                                               " &\nchild=$!\nsleep 1\n"
                                                               "kill -9 $child\nwait $child\n");
    CommandResult result =
        run_shell(mpirun_options(mpirun) + "-np 1 " + run + " : -np 1 sh " + killer);

    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("Process name: [["), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("],1]"), std::string::npos) << "rank 1 named: " << result.output;
    EXPECT_FALSE(fs::exists(out)) << "a killed job must not leave a result folder";
    for (const auto& entry : fs::directory_iterator(root))
        EXPECT_EQ(entry.path().filename().string().find("out."), std::string::npos)
            << "staging left behind: " << entry.path();
}

}  // namespace
}  // namespace ca
