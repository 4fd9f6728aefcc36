// Launching the command line under mpirun on this machine for the multi-rank tests: the
// mpirun options (shared memory between ranks, loopback for the launcher, one thread each),
// readers for the outputs, and the check that two ranks reproduce one process bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include "core/communicator.h"
#include "e2e/run_binary.h"

extern char** environ;

namespace ca {
namespace mpi_test {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::fresh_directory;
using testing::read_json;
using testing::read_text;
using testing::run_shell;
using testing::write_text;

// mpirun on the PATH, or empty.
inline std::string find_mpirun() {
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

inline bool starts_with(const std::string& text, const char* prefix) {
    return text.compare(0, std::strlen(prefix), prefix) == 0;
}

// "env -u NAME ..." for the variables of a running MPI job: this test process may have
// initialised MPI itself (MpiCommunicatorTest in the same binary), and mpirun would take them
// as its own. The user's own OMPI_MCA_ settings are kept.
inline std::string without_job_variables() {
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
inline std::string mpirun_options(const std::string& mpirun) {
    return without_job_variables() + "'" + mpirun +
           "' --oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader"
           " --mca mpi_yield_when_idle 1"
           " --mca oob_tcp_if_include lo -x PMIX_MCA_ptl_tcp_if_include=lo"
           " -x OMP_NUM_THREADS=1 ";
}

inline std::string binary() { return "'" + testing::binary_path() + "'"; }

// n of every (cluster, arm) cell of cluster_table.csv.
inline std::map<std::pair<int, int>, long> cell_counts(const fs::path& csv) {
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

inline const nlohmann::json& method_entry(const nlohmann::json& metrics, const std::string& name) {
    for (const auto& method : metrics["methods"])
        if (method["method"] == name) return method;
    static const nlohmann::json missing;
    ADD_FAILURE() << "method " << name << " missing from metrics.json";
    return missing;
}

inline size_t occurrences(const std::string& text, const std::string& word) {
    size_t count = 0;
    for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1))
        ++count;
    return count;
}

// The document without its wall-time fields (any key named "seconds"), which differ run to run.
inline nlohmann::json without_timings(nlohmann::json document) {
    if (document.is_object()) {
        document.erase("seconds");
        for (auto& entry : document.items()) entry.value() = without_timings(entry.value());
    } else if (document.is_array()) {
        for (auto& element : document) element = without_timings(element);
    }
    return document;
}

// What the run prints besides its log lines ("[info] ...", "[warning] ..."): the tables.
inline std::string printed_table(const std::string& output) {
    std::stringstream lines(output);
    std::string line, table;
    while (std::getline(lines, line))
        if (!line.empty() && line[0] != '[') table += line + "\n";
    return table;
}

// One process with two threads, then two ranks with one thread each: every sum follows one
// fixed order whatever the ranks and threads, so the two runs must agree to the bit, not only
// within a tolerance.
inline void expect_two_ranks_equal_one_process(const std::string& config_text,
                                               const std::string& name,
                                               const std::string& extra = "") {
    REQUIRE_MPIRUN(mpirun);
    fs::path root = fresh_directory(name);
    std::string config = write_text(root / "config.json", config_text);
    fs::path one = root / "one", two = root / "two";

    CommandResult single = run_shell(without_job_variables() + "OMP_NUM_THREADS=2 " + binary() +
                                     " run --config " + config + extra + " --out " + one.string());
    ASSERT_EQ(single.exit_code, 0) << single.output;
    CommandResult ranks = run_shell(mpirun_options(mpirun) + "-np 2 " + binary() +
                                    " run --config " + config + extra + " --out " + two.string());
    ASSERT_EQ(ranks.exit_code, 0) << ranks.output;

    // Rank 0 alone prints the table and the log; rank 1 is silent.
    EXPECT_EQ(occurrences(ranks.output, "wrote "), 1u) << ranks.output;
    EXPECT_EQ(occurrences(ranks.output, "network epoch 1/"), 1u) << ranks.output;
    EXPECT_EQ(read_json(two / "run_info.json")["ranks"], 2);
    EXPECT_EQ(read_json(one / "run_info.json")["ranks"], 1);

    // The same table on the terminal, the same clusters and cells, the same budget curves.
    std::string table = printed_table(single.output);
    EXPECT_FALSE(table.empty()) << single.output;
    EXPECT_EQ(printed_table(ranks.output), table);
    EXPECT_EQ(cell_counts(two / "cluster_table.csv"), cell_counts(one / "cluster_table.csv"));
    EXPECT_EQ(read_text(two / "cluster_table.csv"), read_text(one / "cluster_table.csv"));
    EXPECT_EQ(read_text(two / "budget_curve.csv"), read_text(one / "budget_curve.csv"));
    nlohmann::json a = read_json(one / "metrics.json"), b = read_json(two / "metrics.json");
    for (const auto& method : a["methods"]) {
        const std::string name = method["method"];
        EXPECT_EQ(method_entry(b, name)["levels"], method["levels"]) << name;
    }
    // The distilled student: its training history, agreement and served EOM per level.
    ASSERT_TRUE(a.contains("distillation") && b.contains("distillation"));
    EXPECT_EQ(without_timings(b["distillation"]), without_timings(a["distillation"]));
}

}  // namespace mpi_test
}  // namespace ca
