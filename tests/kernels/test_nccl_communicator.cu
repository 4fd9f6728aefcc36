// The NCCL communicator: without a device, the ConfigError a rank gets; with one device, a
// one-rank job whose staged host sums, device sums and broadcast keep every element; with two,
// two ranks under mpirun (loopback only) whose sums match values worked out by hand.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/communicator.h"
#include "core/errors.h"
#include "core/nccl_factory.h"
#include "e2e/mpi_launch.h"
#include "kernels/cuda/cuda_backend.cuh"

#ifdef CA_WITH_NCCL
#include "kernels/cuda/nccl_communicator.h"
#endif

extern char** environ;

namespace ca {
namespace {

#ifndef CA_WITH_NCCL

TEST(NcclCommunicatorTest, NotInThisBuild) {
    GTEST_SKIP() << "this build has no NCCL communicator: it lacks " << nccl_missing_parts();
}

#else

namespace fs = std::filesystem;


// MPI's and NCCL's own traffic stays on this machine, unless the caller configured otherwise.
void keep_traffic_local() {
    setenv("OMPI_MCA_btl", "self,vader", 0);
    setenv("OMPI_MCA_oob_tcp_if_include", "lo", 0);
    setenv("PMIX_MCA_ptl_tcp_if_include", "lo", 0);
    setenv("NCCL_SOCKET_IFNAME", "lo", 0);
}

int visible_devices() {
    int count = 0;
    if (cudaGetDeviceCount(&count) == cudaSuccess) return count;
    cudaGetLastError();
    return 0;
}

std::string config_error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

// ---------------------------------------------------------------------------------------------
// Without a device

// The case every device test skips: the rank's error carries the key, the rank and the runtime's
// own reason (cuda_device_status() asks cudaGetDeviceCount independently).
TEST(NcclCommunicatorTest, WithoutADeviceTheRankGetsAConfigErrorWithTheCause) {
    if (visible_devices() > 0) GTEST_SKIP() << "a CUDA device is visible: " << cuda_device_status();
    if (launcher_ranks() > 1) GTEST_SKIP() << "runs as a one-process job";
    keep_traffic_local();
    const std::string expected =
        "run.json: ranks: rank 0: \"nccl\" needs one CUDA device per "
        "rank, but none is visible (" +
        cuda_device_status() + ")";
    EXPECT_EQ(config_error_of([] { make_communicator("nccl", "run.json: ranks"); }), expected);
    EXPECT_EQ(config_error_of([] { NcclCommunicator direct("run.json: ranks"); }), expected);
}

// ---------------------------------------------------------------------------------------------
// One rank on one device

class NcclOneRankTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (visible_devices() == 0) GTEST_SKIP() << "no CUDA device: " << cuda_device_status();
        if (launcher_ranks() > 1) GTEST_SKIP() << "runs as a one-process job";
        keep_traffic_local();
        NcclParams params;
        params.max_stage_bytes = 40;  // 5 doubles or 10 floats: every array below takes pieces
        comm_ = std::make_unique<NcclCommunicator>("test", params);
    }
    NcclCommunicator& comm() { return *comm_; }

  private:
    std::unique_ptr<NcclCommunicator> comm_;
};

TEST_F(NcclOneRankTest, IsRankZeroOfOneOnTheCurrentDevice) {
    EXPECT_EQ(comm().rank(), 0);
    EXPECT_EQ(comm().size(), 1);
    EXPECT_EQ(comm().name(), "nccl");
    int current = -1;
    ASSERT_EQ(cudaGetDevice(&current), cudaSuccess);
    EXPECT_EQ(comm().device(), current);
    EXPECT_EQ(comm().shard(9).size(), 9);
}

// A sum over one rank is the identity, so any piece copied to the wrong offset, any element
// converted through another type (2^62 + 1 is not a double) or left out shows.
TEST_F(NcclOneRankTest, StagedHostSumsKeepEveryElement) {
    std::vector<double> doubles;
    for (int i = 0; i < 23; ++i) doubles.push_back(0.37 * i - 4.0);
    std::vector<float> floats;
    for (int i = 0; i < 37; ++i) floats.push_back(float(i) * -1.5f + 0.25f);
    std::vector<int64_t> integers;
    for (int i = 0; i < 19; ++i) integers.push_back((int64_t(1) << 62) + 1 - 7 * int64_t(i));
    std::vector<double> doubles_in = doubles;
    std::vector<float> floats_in = floats;
    std::vector<int64_t> integers_in = integers;
    allreduce_sum(comm(), doubles);
    allreduce_sum(comm(), floats);
    allreduce_sum(comm(), integers);
    EXPECT_EQ(doubles, doubles_in);
    EXPECT_EQ(floats, floats_in);
    EXPECT_EQ(integers, integers_in);
    EXPECT_EQ(allreduce_sum(comm(), int64_t(-5)), -5);
    comm().allreduce_sum(static_cast<double*>(nullptr), 0);  // no elements: nothing to do
}

TEST_F(NcclOneRankTest, DeviceSumsRunOnTheStream) {
    std::vector<float> host(1000);
    for (size_t i = 0; i < host.size(); ++i) host[i] = float(i) - 300.5f;
    std::vector<double> host_doubles(77);
    for (size_t i = 0; i < host_doubles.size(); ++i) host_doubles[i] = 1e300 / double(i + 1);
    float* device = nullptr;
    double* device_doubles = nullptr;
    ASSERT_EQ(cudaMalloc(&device, host.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&device_doubles, host_doubles.size() * sizeof(double)), cudaSuccess);
    const size_t bytes = host.size() * sizeof(float);
    const size_t double_bytes = host_doubles.size() * sizeof(double);
    ASSERT_EQ(cudaMemcpyAsync(device, host.data(), bytes, cudaMemcpyHostToDevice, comm().stream()),
              cudaSuccess);
    ASSERT_EQ(cudaMemcpyAsync(device_doubles, host_doubles.data(), double_bytes,
                              cudaMemcpyHostToDevice, comm().stream()),
              cudaSuccess);
    comm().allreduce_sum_device(device, int64_t(host.size()));
    comm().allreduce_sum_device(device_doubles, int64_t(host_doubles.size()));
    std::vector<float> back(host.size());
    std::vector<double> back_doubles(host_doubles.size());
    ASSERT_EQ(cudaMemcpyAsync(back.data(), device, bytes, cudaMemcpyDeviceToHost, comm().stream()),
              cudaSuccess);
    ASSERT_EQ(cudaMemcpyAsync(back_doubles.data(), device_doubles, double_bytes,
                              cudaMemcpyDeviceToHost, comm().stream()),
              cudaSuccess);
    comm().synchronize();
    EXPECT_EQ(back, host);
    EXPECT_EQ(back_doubles, host_doubles);
    cudaFree(device);
    cudaFree(device_doubles);
}

TEST_F(NcclOneRankTest, BroadcastAndBarrierGoThroughMpi) {
    std::vector<char> bytes = {'n', 'c', 'c', 'l'};
    comm().broadcast(bytes);
    EXPECT_EQ(bytes, (std::vector<char>{'n', 'c', 'c', 'l'}));
    comm().barrier();
    std::vector<float> weights = {1.0f, -2.0f};
    broadcast_floats(comm(), weights);
    EXPECT_EQ(weights, (std::vector<float>{1.0f, -2.0f}));
}

TEST_F(NcclOneRankTest, TheConfigKeyGivesTheSameKind) {
    auto chosen = communicator_from_config(
        ConfigNode::from_json(nlohmann::json::parse(R"({"ranks": "nccl"})"), "run.json"));
    EXPECT_EQ(chosen->name(), "nccl");
    EXPECT_EQ(chosen->size(), 1);
}

// ---------------------------------------------------------------------------------------------
// Two ranks on two devices: this binary again, under mpirun, running NcclTwoRankChild only.

constexpr const char* kChildVariable = "CA_NCCL_TWO_RANK_CHILD";

using mpi_test::find_mpirun;
using mpi_test::without_job_variables;

TEST(NcclTwoRankTest, SumsAndBroadcastAcrossTwoProcessesOnTwoDevices) {
    if (std::getenv(kChildVariable)) GTEST_SKIP() << "a child of this test";
    const int devices = visible_devices();
    if (devices < 2) GTEST_SKIP() << "needs 2 CUDA devices, " << devices << " visible";
    const std::string mpirun = find_mpirun();
    if (mpirun.empty()) GTEST_SKIP() << "mpirun is not on the PATH";
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const std::string command =
        without_job_variables() + "'" + mpirun +
        "' -np 2 --oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader"
        " --mca oob_tcp_if_include lo -x PMIX_MCA_ptl_tcp_if_include=lo"
        " -x NCCL_SOCKET_IFNAME=lo -x " +
        std::string(kChildVariable) + "=1 '" + self +
        "' --gtest_color=no --gtest_filter='NcclTwoRankChild.*'";
    const testing::CommandResult run = testing::run_shell(command);
    const int status = run.exit_code;
    const std::string& output = run.output;
    EXPECT_EQ(status, 0) << output;
    size_t passed = 0;
    for (size_t at = output.find("[  PASSED  ] 1 test"); at != std::string::npos;
         at = output.find("[  PASSED  ] 1 test", at + 1))
        ++passed;
    EXPECT_EQ(passed, 2u) << output;
    EXPECT_EQ(output.find("SKIPPED"), std::string::npos) << output;
}

TEST(NcclTwoRankChild, SumsMatchValuesWorkedOutByHand) {
    if (!std::getenv(kChildVariable)) GTEST_SKIP() << "runs under mpirun from NcclTwoRankTest";
    NcclParams params;
    params.max_stage_bytes = 48;  // 6 doubles, 12 floats: several pieces
    NcclCommunicator comm("test", params);
    ASSERT_EQ(comm.size(), 2);
    const int r = comm.rank();
    // Ranks 0 and 1 hold (r + 1) * (i + 0.5): the sum 3i + 1.5 is exact in both types.
    std::vector<double> doubles(29);
    std::vector<float> floats(31);
    for (size_t i = 0; i < doubles.size(); ++i) doubles[i] = (r + 1) * (double(i) + 0.5);
    for (size_t i = 0; i < floats.size(); ++i) floats[i] = float((r + 1) * (double(i) + 0.5));
    // Rank 0: 2^60 + i, rank 1: -3i; sum 2^60 - 2i, beyond a double's exact integers.
    std::vector<int64_t> integers(17);
    for (size_t i = 0; i < integers.size(); ++i)
        integers[i] = r == 0 ? (int64_t(1) << 60) + int64_t(i) : -3 * int64_t(i);
    allreduce_sum(comm, doubles);
    allreduce_sum(comm, floats);
    allreduce_sum(comm, integers);
    for (size_t i = 0; i < doubles.size(); ++i) EXPECT_EQ(doubles[i], 3.0 * i + 1.5) << i;
    for (size_t i = 0; i < floats.size(); ++i) EXPECT_EQ(floats[i], float(3.0 * i + 1.5)) << i;
    for (size_t i = 0; i < integers.size(); ++i)
        EXPECT_EQ(integers[i], (int64_t(1) << 60) - 2 * int64_t(i)) << i;

    // Device sums: rank r holds r + 1 everywhere, so every element becomes 3.
    std::vector<float> host(500, float(r + 1));
    float* device = nullptr;
    ASSERT_EQ(cudaMalloc(&device, host.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(device, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
    comm.allreduce_sum_device(device, int64_t(host.size()));
    comm.synchronize();
    ASSERT_EQ(cudaMemcpy(host.data(), device, host.size() * sizeof(float), cudaMemcpyDeviceToHost),
              cudaSuccess);
    cudaFree(device);
    EXPECT_EQ(host, std::vector<float>(host.size(), 3.0f));

    // Each rank on its own device, as the local rank says; rank 0's bytes reach rank 1.
    EXPECT_EQ(comm.device(), launcher_local_rank() % visible_devices());
    std::vector<int64_t> on_device(2, 0);
    on_device[size_t(comm.device() % 2)] = 1;
    allreduce_sum(comm, on_device);
    EXPECT_EQ(on_device, (std::vector<int64_t>{1, 1}));
    std::vector<char> bytes;
    if (r == 0) bytes = {'r', '0'};
    comm.broadcast(bytes);
    EXPECT_EQ(bytes, (std::vector<char>{'r', '0'}));
    comm.barrier();
}

#endif  // CA_WITH_NCCL

}  // namespace
}  // namespace ca
