// Two MPI ranks against one process on the published Hillstrom config: the same printed table,
// clusters and budget curves bit for bit (fixed-order sums). About two minutes on 2 cores, so
// in the long suite.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "e2e/mpi_launch.h"

namespace ca {
namespace {

namespace fs = std::filesystem;
using namespace mpi_test;

TEST(RanksMpiRunTest, TwoRanksMatchOneProcessOnHillstrom) {
    // The published Hillstrom config (64,000 rows, K = 64) with one seed and three epochs.
    fs::path data = fs::path(std::getenv("CA_SHARED_DATA") ? std::getenv("CA_SHARED_DATA") : "") /
                    "hillstrom.csv";
    if (!fs::exists(data))
        GTEST_SKIP() << "Hillstrom data not found at " << data
                     << " (the shared data folder beside the project is absent)";
    std::string config = read_text(std::string(CA_SOURCE_DIR) + "/configs/hillstrom.json");
    expect_two_ranks_equal_one_process(config, "e2e_mpi_hillstrom",
                                       " --data " + data.string() + " --seeds 1 --epochs 3");
}

}  // namespace
}  // namespace ca
