// Choosing the NCCL communicator without a GPU: the "auto" rule for each device and launcher
// size, and the ConfigError of a build without CUDA, NCCL or MPI (runs on every machine).
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include "core/communicator.h"
#include "core/errors.h"
#include "core/nccl_factory.h"
#include "support/scoped_env.h"

namespace ca {
namespace {

using testing::ScopedEnv;

// A launcher that reports `ranks` processes through mpirun's variable only.
struct Launcher {
    explicit Launcher(const char* ranks) : ompi("OMPI_COMM_WORLD_SIZE", ranks) {}
    ScopedEnv pmi{"PMI_SIZE", nullptr};
    ScopedEnv slurm{"SLURM_STEP_NUM_TASKS", nullptr};
    ScopedEnv ompi;
};

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

TEST(NcclChoiceTest, BuildFlagsMatchTheConfiguredParts) {
#if defined(CA_WITH_CUDA) && defined(CA_WITH_MPI) && defined(CA_WITH_NCCL)
    EXPECT_TRUE(build_has_nccl());
    EXPECT_EQ(nccl_missing_parts(), "");
#else
    EXPECT_FALSE(build_has_nccl());
    EXPECT_NE(nccl_missing_parts(), "");
#endif
#ifndef CA_WITH_CUDA
    EXPECT_NE(nccl_missing_parts().find("CUDA"), std::string::npos) << nccl_missing_parts();
#endif
#ifndef CA_WITH_MPI
    EXPECT_NE(nccl_missing_parts().find("MPI"), std::string::npos) << nccl_missing_parts();
#endif
}

TEST(NcclChoiceTest, AutoTakesNcclOnlyForCudaSeveralProcessesAndANcclBuild) {
    const std::string several = build_has_mpi() ? "mpi" : "local";
    {
        Launcher none(nullptr);
        EXPECT_EQ(resolve_communicator_kind("auto", "cuda"), "local");
        EXPECT_EQ(resolve_communicator_kind("auto", "cpu"), "local");
    }
    {
        Launcher one("1");
        EXPECT_EQ(resolve_communicator_kind("auto", "cuda"), "local");
    }
    Launcher two("2");
    EXPECT_EQ(resolve_communicator_kind("auto", "cpu"), several);
    EXPECT_EQ(resolve_communicator_kind("auto", "cuda"), build_has_nccl() ? "nccl" : several);
    // An explicit kind is never replaced.
    for (const char* kind : {"local", "mpi", "nccl"})
        EXPECT_EQ(resolve_communicator_kind(kind, "cpu"), kind);
}

TEST(NcclChoiceTest, NcclInABuildWithoutItNamesTheKeyAndWhatIsMissing) {
    if (build_has_nccl()) GTEST_SKIP() << "this build has NCCL; NcclCommunicatorTest covers it";
    Launcher none(nullptr);
    for (const char* device : {"cpu", "cuda"}) {
        std::string message = error_of([&] {
            communicator_from_config(ConfigNode::from_json(
                nlohmann::json::parse(std::string(R"({"ranks": "nccl", "device": ")") + device +
                                      "\"}"),
                "configs/run.json"));
        });
        EXPECT_EQ(message.rfind("configs/run.json: ranks: ", 0), 0u) << message;
        EXPECT_NE(message.find("\"nccl\""), std::string::npos) << message;
        EXPECT_NE(message.find("lacks " + nccl_missing_parts()), std::string::npos) << message;
    }
    std::string direct = error_of([] { make_communicator("nccl", "run.json: ranks"); });
    EXPECT_EQ(direct.rfind("run.json: ranks: ", 0), 0u) << direct;
    EXPECT_THROW(make_nccl_communicator("x"), ConfigError);
}

TEST(NcclChoiceTest, AnUnknownKindListsNccl) {
    Launcher none(nullptr);
    std::string message = error_of([] { make_communicator("gloo", "run.json: ranks"); });
    EXPECT_NE(message.find("\"gloo\""), std::string::npos) << message;
    EXPECT_NE(message.find("\"nccl\""), std::string::npos) << message;
    std::string from_config = error_of([] {
        communicator_from_config(ConfigNode::from_json(
            nlohmann::json::parse(R"({"ranks": "gloo"})"), "configs/run.json"));
    });
    EXPECT_NE(from_config.find("configs/run.json: ranks"), std::string::npos) << from_config;
    EXPECT_NE(from_config.find("nccl"), std::string::npos) << from_config;
}

TEST(NcclChoiceTest, TheDeviceKeyIsCheckedWhenRanksAreChosen) {
    Launcher none(nullptr);
    std::string message = error_of([] {
        communicator_from_config(ConfigNode::from_json(
            nlohmann::json::parse(R"({"device": "gpu"})"), "configs/run.json"));
    });
    EXPECT_NE(message.find("configs/run.json: device"), std::string::npos) << message;
    EXPECT_NE(message.find("gpu"), std::string::npos) << message;
    // The command line's --device wins over the config: no error for the same document.
    auto comm = communicator_from_config(
        ConfigNode::from_json(nlohmann::json::parse(R"({"device": "gpu"})"), "configs/run.json"),
        "cpu");
    EXPECT_EQ(comm->name(), "local");
}

}  // namespace
}  // namespace ca
