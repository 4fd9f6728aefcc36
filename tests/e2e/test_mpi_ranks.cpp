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
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "core/communicator.h"
#include "e2e/run_binary.h"

extern char** environ;

namespace ca {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::fresh_directory;
using testing::read_json;
using testing::write_text;

// mpirun on the PATH, or empty.
std::string find_mpirun() {
    const char* path = std::getenv("PATH");
    std::stringstream folders(path ? path : "");
    std::string folder;
    while (std::getline(folders, folder, ':')) {
        fs::path candidate = fs::path(folder) / "mpirun";
        if (!folder.empty() && fs::exists(candidate)) return candidate.string();
    }
    return "";
}

// Skips the test when this build or machine cannot start MPI jobs; else sets var to mpirun.
#define REQUIRE_MPIRUN(var)                                        \
    if (!build_has_mpi()) GTEST_SKIP() << "this build has no MPI"; \
    std::string var = find_mpirun();                               \
    if (var.empty()) GTEST_SKIP() << "mpirun is not on the PATH; MPI runs not tested"

CommandResult run_shell(const std::string& command) {
    CommandResult result;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return result;
    char buffer[4096];
    size_t read = 0;
    while ((read = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
        result.output.append(buffer, read);
    int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

bool starts_with(const std::string& text, const char* prefix) {
    return text.compare(0, std::strlen(prefix), prefix) == 0;
}

// "env -u NAME ..." for the variables of a running MPI job: this test process may have
// initialised MPI itself (MpiCommunicatorTest in the same binary), and mpirun would take them
// as its own. The user's own OMPI_MCA_ settings are kept.
std::string without_job_variables() {
    std::string command = "env";
    for (char** entry = environ; *entry; ++entry) {
        std::string name(*entry, std::strcspn(*entry, "="));
        bool user_setting = starts_with(name, "OMPI_MCA_") && !starts_with(name, "OMPI_MCA_ess") &&
                            !starts_with(name, "OMPI_MCA_orte") &&
                            !starts_with(name, "OMPI_MCA_pmix");
        bool job = starts_with(name, "OMPI_") || starts_with(name, "PMIX_") ||
                   starts_with(name, "PMI_") || starts_with(name, "ORTE_");
        if (job && !user_setting) command += " -u " + name;
    }
    return command + " ";
}

// Two ranks on this machine: shared memory between them, loopback for the launcher, one
// OpenMP thread each, yielding the core while waiting in a collective (the machine is shared),
// allowed as root in containers.
std::string mpirun_options(const std::string& mpirun) {
    return without_job_variables() + "'" + mpirun +
           "' --oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader"
           " --mca mpi_yield_when_idle 1"
           " --mca oob_tcp_if_include lo -x PMIX_MCA_ptl_tcp_if_include=lo"
           " -x OMP_NUM_THREADS=1 ";
}

std::string binary() { return "'" + testing::binary_path() + "'"; }

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

// n of every (cluster, arm) cell of cluster_table.csv.
std::map<std::pair<int, int>, long> cell_counts(const fs::path& csv) {
    std::ifstream in(csv);
    std::string line;
    std::getline(in, line);  // header: cluster,arm,population,n,...
    std::map<std::pair<int, int>, long> counts;
    while (std::getline(in, line)) {
        std::stringstream fields(line);
        std::string cluster, arm, population, n;
        std::getline(fields, cluster, ',');
        std::getline(fields, arm, ',');
        std::getline(fields, population, ',');
        std::getline(fields, n, ',');
        counts[{std::stoi(cluster), std::stoi(arm)}] = std::stol(n);
    }
    return counts;
}

const nlohmann::json& method_entry(const nlohmann::json& metrics, const std::string& name) {
    for (const auto& method : metrics["methods"])
        if (method["method"] == name) return method;
    static const nlohmann::json missing;
    ADD_FAILURE() << "method " << name << " missing from metrics.json";
    return missing;
}

size_t occurrences(const std::string& text, const std::string& word) {
    size_t count = 0;
    for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1))
        ++count;
    return count;
}

TEST(RanksMpiRunTest, TwoRanksMatchOneProcess) {
    REQUIRE_MPIRUN(mpirun);
    fs::path root = fresh_directory("e2e_mpi_ranks");
    std::string config = write_text(root / "config.json", synthetic_config());
    fs::path one = root / "one", two = root / "two";

    CommandResult single = run_shell(without_job_variables() + "OMP_NUM_THREADS=1 " + binary() +
                                     " run --config " + config + " --out " + one.string());
    ASSERT_EQ(single.exit_code, 0) << single.output;
    CommandResult ranks = run_shell(mpirun_options(mpirun) + "-np 2 " + binary() +
                                    " run --config " + config + " --out " + two.string());
    ASSERT_EQ(ranks.exit_code, 0) << ranks.output;

    // Rank 0 alone prints the table and the log; rank 1 is silent.
    EXPECT_EQ(occurrences(ranks.output, "wrote "), 1u) << ranks.output;
    EXPECT_EQ(occurrences(ranks.output, "network epoch 1/"), 1u) << ranks.output;
    EXPECT_EQ(read_json(two / "run_info.json")["ranks"], 2);
    EXPECT_EQ(read_json(one / "run_info.json")["ranks"], 1);

    // Both runs use one thread per process and train from the same weights on the same
    // batches; the two-rank gradient is the sum of two half-batch gradients, equal to the
    // one-process gradient up to the order of float sums. On this small, well-separated data
    // that rounding moves no row across a k-means boundary, so the cell counts must agree
    // exactly. (On large data a row near a boundary can move, k-means then settles elsewhere,
    // and the runs agree only statistically, as runs with different thread counts do.)
    EXPECT_EQ(cell_counts(two / "cluster_table.csv"), cell_counts(one / "cluster_table.csv"));

    // With the same clusters, the estimates differ only by the order of double sums and the
    // budget matching only by where bisection stops, so the EOM values agree to 1e-6 of the
    // curve's scale (a looser bound would hide a shard that is counted twice or not at all,
    // which shifts them by percents).
    nlohmann::json a = read_json(one / "metrics.json"), b = read_json(two / "metrics.json");
    for (const char* name : {"HRC", "TSM-SL", "random"}) {
        const auto& levels_a = method_entry(a, name)["levels"];
        const auto& levels_b = method_entry(b, name)["levels"];
        ASSERT_EQ(levels_a.size(), levels_b.size()) << name;
        double scale = std::abs(double(levels_a.back()["eom_mean"])) + 1e-12;
        for (size_t l = 0; l < levels_a.size(); ++l) {
            EXPECT_NEAR(double(levels_b[l]["eom_mean"]), double(levels_a[l]["eom_mean"]),
                        1e-6 * scale)
                << name << " level " << l;
            EXPECT_NEAR(double(levels_b[l]["cost_mean"]), double(levels_a[l]["cost_mean"]),
                        1e-6 * (std::abs(double(levels_a.back()["cost_mean"])) + 1e-12))
                << name << " level " << l;
        }
    }
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

TEST(RanksMpiRunTest, FailingRankEndsTheJobAndLeavesNoOutput) {
    // Rank 1 is given a data file that does not exist; rank 0 loads the real one and goes on
    // to train, where it waits for rank 1's first gradient. Rank 1's error must end both.
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

}  // namespace
}  // namespace ca
