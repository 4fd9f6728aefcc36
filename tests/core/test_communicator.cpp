// The communicators and the sharded stages: the local communicator, row shards, the choice of
// communicator for a run, the MPI communicator as a one-process job, and k-means, cluster
// estimates and network training on several ranks (threads of this process standing in for
// MPI processes) against the one-process run.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/cluster_estimates.h"
#include "core/communicator.h"
#include "core/errors.h"
#include "core/kmeans.h"
#include "core/log.h"
#include "core/multitask_network.h"
#include "kernels/backend.h"
#include "support/scoped_env.h"
#include "support/thread_ranks.h"

#ifdef CA_WITH_MPI
#include "core/mpi_communicator.h"
#endif

namespace ca {
namespace {

using testing::QuietLog;
using testing::run_on_ranks;
using testing::ShardOnlyCommunicator;

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

using testing::ScopedEnv;

// No launcher variables, as in a plain run from a shell.
struct NoLauncher {
    ScopedEnv ompi{"OMPI_COMM_WORLD_SIZE", nullptr};
    ScopedEnv pmi{"PMI_SIZE", nullptr};
    ScopedEnv slurm{"SLURM_STEP_NUM_TASKS", nullptr};
};

// ---------------------------------------------------------------------------------------------
// Local communicator and shards

TEST(CommLocalTest, IsRankZeroOfOneAndLeavesDataAsItIs) {
    Communicator& comm = local_communicator();
    EXPECT_EQ(comm.rank(), 0);
    EXPECT_EQ(comm.size(), 1);
    EXPECT_EQ(comm.name(), "local");
    std::vector<double> doubles = {1.5, -2.25};
    std::vector<float> floats = {3.0f};
    std::vector<int64_t> integers = {7, 1LL << 40};
    allreduce_sum(comm, doubles);
    allreduce_sum(comm, floats);
    allreduce_sum(comm, integers);
    EXPECT_EQ(doubles, (std::vector<double>{1.5, -2.25}));
    EXPECT_EQ(floats, (std::vector<float>{3.0f}));
    EXPECT_EQ(integers, (std::vector<int64_t>{7, 1LL << 40}));
    EXPECT_EQ(allreduce_sum(comm, 4.5), 4.5);
    std::vector<char> bytes = {'a', 'b'};
    comm.broadcast(bytes);
    EXPECT_EQ(bytes, (std::vector<char>{'a', 'b'}));
    comm.barrier();
    RowRange all = comm.shard(7);
    EXPECT_EQ(all.begin, 0);
    EXPECT_EQ(all.end, 7);
}

TEST(CommShardTest, TenRowsOverThreeRanksByHand) {
    // 10 = 4 + 3 + 3: the one extra row goes to the first rank.
    std::vector<std::pair<int64_t, int64_t>> expected = {{0, 4}, {4, 7}, {7, 10}};
    for (int r = 0; r < 3; ++r) {
        RowRange range = ShardOnlyCommunicator(r, 3).shard(10);
        EXPECT_EQ(range.begin, expected[size_t(r)].first) << "rank " << r;
        EXPECT_EQ(range.end, expected[size_t(r)].second) << "rank " << r;
    }
}

TEST(CommShardTest, AlignedShardsTakeWholeBlocksByHand) {
    // 10 rows in blocks of 3: blocks [0,3) [3,6) [6,9) [9,10) over 3 ranks: 2 + 1 + 1 blocks.
    std::vector<std::pair<int64_t, int64_t>> expected = {{0, 6}, {6, 9}, {9, 10}};
    for (int r = 0; r < 3; ++r) {
        RowRange range = ShardOnlyCommunicator(r, 3).aligned_shard(10, 3);
        EXPECT_EQ(range.begin, expected[size_t(r)].first) << "rank " << r;
        EXPECT_EQ(range.end, expected[size_t(r)].second) << "rank " << r;
    }
    // More ranks than blocks: the last ranks get nothing, at the end of the rows.
    RowRange idle = ShardOnlyCommunicator(4, 5).aligned_shard(10, 3);
    EXPECT_EQ(idle.begin, 10);
    EXPECT_EQ(idle.size(), 0);
}

TEST(CommShardTest, BlocksTileTheRowsInRankOrderAndDifferByAtMostOne) {
    for (int64_t n : {0, 1, 2, 5, 1000, 1001}) {
        for (int size : {1, 2, 3, 7}) {
            int64_t next = 0, largest = 0, smallest = n;
            for (int r = 0; r < size; ++r) {
                RowRange range = ShardOnlyCommunicator(r, size).shard(n);
                EXPECT_EQ(range.begin, next) << "n=" << n << " size=" << size << " rank " << r;
                EXPECT_GE(range.size(), 0);
                if (r > 0) EXPECT_LE(range.size(), largest) << "larger blocks come first";
                largest = std::max(largest, range.size());
                smallest = std::min(smallest, range.size());
                next = range.end;
            }
            EXPECT_EQ(next, n) << "n=" << n << " size=" << size;
            EXPECT_LE(largest - smallest, 1) << "n=" << n << " size=" << size;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Choosing the communicator of a run

TEST(CommChoiceTest, LocalAndAutoOutsideALauncherAreOneProcess) {
    NoLauncher plain;
    EXPECT_EQ(launcher_ranks(), 0);
    for (const char* kind : {"local", "auto"}) {
        auto comm = make_communicator(kind, "run.json: ranks");
        EXPECT_EQ(comm->name(), "local") << kind;
        EXPECT_EQ(comm->size(), 1) << kind;
    }
}

TEST(CommChoiceTest, OneLaunchedProcessRunsLocally) {
    NoLauncher plain;
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", "1");
    auto comm = make_communicator("auto", "run.json: ranks");
    EXPECT_EQ(comm->name(), "local");
    EXPECT_EQ(comm->size(), 1);
}

TEST(CommChoiceTest, LauncherVariablesAreReadInOrder) {
    NoLauncher plain;
    ScopedEnv slurm("SLURM_STEP_NUM_TASKS", "4");
    EXPECT_EQ(launcher_ranks(), 4);
    ScopedEnv pmi("PMI_SIZE", "3");
    EXPECT_EQ(launcher_ranks(), 3);
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", "2");
    EXPECT_EQ(launcher_ranks(), 2);
}

TEST(CommChoiceTest, LocalRankComesFromMpirunThenSlurm) {
    ScopedEnv ompi("OMPI_COMM_WORLD_LOCAL_RANK", nullptr);
    ScopedEnv slurm("SLURM_LOCALID", nullptr);
    EXPECT_EQ(launcher_local_rank(), -1);
    ScopedEnv slurm_set("SLURM_LOCALID", "3");
    EXPECT_EQ(launcher_local_rank(), 3);
    ScopedEnv ompi_set("OMPI_COMM_WORLD_LOCAL_RANK", "1");
    EXPECT_EQ(launcher_local_rank(), 1);
    for (const char* bad : {"", "-1", "-2", "x", "2x", "4x", "99999999999"}) {
        ScopedEnv ompi_bad("OMPI_COMM_WORLD_LOCAL_RANK", bad);
        ScopedEnv slurm_unset("SLURM_LOCALID", nullptr);
        EXPECT_EQ(launcher_local_rank(), -1) << "\"" << bad << "\"";
    }
}

TEST(CommChoiceTest, UnknownKindNamesTheKeyAndTheValue) {
    NoLauncher plain;
    std::string message = error_of([] {
        communicator_from_config(ConfigNode::from_json(
            nlohmann::json::parse(R"({"ranks": "threads"})"), "configs/run.json"));
    });
    EXPECT_NE(message.find("configs/run.json: ranks"), std::string::npos) << message;
    EXPECT_NE(message.find("\"threads\""), std::string::npos) << message;
    EXPECT_THROW(make_communicator("threads", "x"), ConfigError);
}

TEST(CommChoiceTest, AbsentKeyMeansAutoAndLocalIsHonoured) {
    NoLauncher plain;
    auto from = [](const char* text) {
        return communicator_from_config(
            ConfigNode::from_json(nlohmann::json::parse(text), "configs/run.json"));
    };
    EXPECT_EQ(from("{}")->name(), "local");
    EXPECT_EQ(from(R"({"ranks": "local"})")->name(), "local");
}

TEST(CommChoiceTest, LocalUnderALauncherOfTwoIsRefused) {
    // Two processes each running the whole job as rank 0 would write the same folder twice.
    NoLauncher plain;
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", "2");
    std::string message = error_of([] { make_communicator("local", "run.json: ranks"); });
    EXPECT_NE(message.find("run.json: ranks"), std::string::npos) << message;
    EXPECT_NE(message.find("started 2 processes"), std::string::npos) << message;
    EXPECT_NE(message.find("sees 1"), std::string::npos) << message;
}

TEST(CommChoiceTest, MpiWithoutMpiInTheBuildIsAConfigError) {
    if (build_has_mpi()) GTEST_SKIP() << "this build has MPI; MpiCommunicatorTest covers it";
    NoLauncher plain;
    std::string message = error_of([] { make_communicator("mpi", "run.json: ranks"); });
    EXPECT_NE(message.find("run.json: ranks"), std::string::npos) << message;
    EXPECT_NE(message.find("no MPI"), std::string::npos) << message;
    ScopedEnv ompi("OMPI_COMM_WORLD_SIZE", "2");
    EXPECT_THROW(make_communicator("auto", "run.json: ranks"), ConfigError);
}

// ---------------------------------------------------------------------------------------------
// MPI as a one-process job

TEST(MpiCommunicatorTest, SingleProcessIsRankZeroOfOne) {
#ifndef CA_WITH_MPI
    GTEST_SKIP() << "this build has no MPI";
#else
    NoLauncher plain;
    // MPI's runtime helpers talk over loopback and shared memory only (unless the caller
    // configured otherwise).
    setenv("OMPI_MCA_btl", "self,vader", 0);
    setenv("OMPI_MCA_oob_tcp_if_include", "lo", 0);
    setenv("PMIX_MCA_ptl_tcp_if_include", "lo", 0);
    MpiCommunicator comm;
    EXPECT_EQ(comm.rank(), 0);
    EXPECT_EQ(comm.size(), 1);
    EXPECT_EQ(comm.name(), "mpi");
    std::vector<double> doubles = {1.5, -2.25};
    std::vector<float> floats = {3.0f, 0.5f};
    std::vector<int64_t> integers = {7, 1LL << 40};
    allreduce_sum(comm, doubles);
    allreduce_sum(comm, floats);
    allreduce_sum(comm, integers);
    EXPECT_EQ(doubles, (std::vector<double>{1.5, -2.25}));
    EXPECT_EQ(floats, (std::vector<float>{3.0f, 0.5f}));
    EXPECT_EQ(integers, (std::vector<int64_t>{7, 1LL << 40}));
    std::vector<char> bytes = {'x', 'y', 'z'};
    comm.broadcast(bytes);
    EXPECT_EQ(bytes, (std::vector<char>{'x', 'y', 'z'}));
    comm.barrier();
    EXPECT_EQ(comm.shard(9).size(), 9);

    // A second communicator shares the one initialisation; "mpi" in a config gives it too.
    auto chosen = make_communicator("mpi", "run.json: ranks");
    EXPECT_EQ(chosen->name(), "mpi");
    EXPECT_EQ(chosen->size(), 1);
#endif
}

// ---------------------------------------------------------------------------------------------
// Sharded k-means against the one-process run

// Four tight, far-apart blobs in 3-D (row i in blob i % 4), so the partition is unambiguous.
std::vector<float> blob_rows(int64_t n, uint64_t seed) {
    const float centers[4][3] = {{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}};
    std::mt19937_64 engine(seed);
    std::normal_distribution<float> noise(0.0f, 0.5f);
    std::vector<float> x;
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < 3; ++j) x.push_back(centers[i % 4][j] + noise(engine));
    return x;
}

void expect_same_clustering(const KMeansResult& one, const KMeansResult& many, int ranks) {
    EXPECT_EQ(many.labels, one.labels) << ranks << " ranks";
    EXPECT_EQ(many.k_effective, one.k_effective) << ranks << " ranks";
    EXPECT_EQ(many.iterations, one.iterations) << ranks << " ranks";
    EXPECT_EQ(many.reseeded, one.reseeded) << ranks << " ranks";
    EXPECT_EQ(many.converged, one.converged) << ranks << " ranks";
    // Sums follow one fixed order on every rank count: the same bits, not only close.
    EXPECT_EQ(many.centroids, one.centroids) << ranks << " ranks";
    EXPECT_EQ(many.inertia, one.inertia) << ranks << " ranks";
}

TEST(RanksKMeansTest, ShardedLloydGivesTheOneProcessClustering) {
    QuietLog quiet;
    const int64_t n = 1001;  // odd, so the shards differ in size
    std::vector<float> x = blob_rows(n, 5);
    KMeansParams params;
    params.k = 4;
    params.seed = 11;
    KMeansResult one = kmeans_fit(x.data(), n, 3, params, cpu_backend());
    for (int ranks : {2, 3}) {
        auto results = run_on_ranks<KMeansResult>(ranks, [&](Communicator& comm) {
            return kmeans_fit(x.data(), n, 3, params, cpu_backend(), comm);
        });
        for (const KMeansResult& result : results) expect_same_clustering(one, result, ranks);
    }
}

TEST(RanksKMeansTest, EmptyClusterTakesTheFarthestRowOfAnotherRank) {
    // Four centroids start on the blobs' centres, a fifth far from every row, so it is empty
    // after the first assignment. The farthest row is an outlier in the last rank's shard; it
    // must re-seed the empty cluster on every rank and end as a cluster of its own.
    QuietLog quiet;
    const int64_t n = 600;
    std::vector<float> x = blob_rows(n, 6);
    const int64_t outlier = 590;
    x[size_t(outlier) * 3 + 0] = 40.0f;
    x[size_t(outlier) * 3 + 1] = 40.0f;
    x[size_t(outlier) * 3 + 2] = 40.0f;
    std::vector<float> start = {0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10, -500, -500, -500};
    KMeansParams params;
    params.k = 5;
    KMeansResult one = kmeans_fit_from(x.data(), n, 3, start.data(), params, cpu_backend());
    ASSERT_GE(one.reseeded, 1);
    int64_t alone = 0;
    for (int32_t label : one.labels) alone += label == one.labels[size_t(outlier)];
    EXPECT_EQ(alone, 1) << "the outlier re-seeds the empty cluster and stays alone";

    for (int ranks : {2, 3}) {
        auto results = run_on_ranks<KMeansResult>(ranks, [&](Communicator& comm) {
            return kmeans_fit_from(x.data(), n, 3, start.data(), params, cpu_backend(), comm);
        });
        for (const KMeansResult& result : results) expect_same_clustering(one, result, ranks);
    }
}

TEST(RanksKMeansTest, MiniBatchRunsTheSameBatchesOnEveryRank) {
    QuietLog quiet;
    const int64_t n = 801;
    std::vector<float> x = blob_rows(n, 7);
    KMeansParams params;
    params.k = 4;
    params.seed = 3;
    params.mini_batch = 64;
    params.max_iterations = 30;
    KMeansResult one = kmeans_fit(x.data(), n, 3, params, cpu_backend());
    auto results = run_on_ranks<KMeansResult>(2, [&](Communicator& comm) {
        return kmeans_fit(x.data(), n, 3, params, cpu_backend(), comm);
    });
    for (const KMeansResult& result : results) {
        // The updates are not sharded, so the centroids agree bit for bit.
        EXPECT_EQ(result.centroids, one.centroids);
        EXPECT_EQ(result.labels, one.labels);
        EXPECT_EQ(result.iterations, one.iterations);
    }
}

// ---------------------------------------------------------------------------------------------
// Sharded cluster estimates

TEST(RanksEstimatesTest, ShardedSumsGiveTheOneProcessTable) {
    QuietLog quiet;
    const int64_t n = 503;
    const int k = 5;
    Dataset rct;
    rct.source = "generated";
    rct.n = n;
    rct.m = 3;
    std::mt19937_64 engine(9);
    std::vector<int32_t> labels;
    for (int64_t i = 0; i < n; ++i) {
        rct.arm.push_back(int32_t(engine() % 3));
        labels.push_back(int32_t(engine() % k));
        rct.value.push_back(float(engine() % 1000) / 37.0f);
        rct.cost.push_back(float(engine() % 100) / 11.0f);
    }
    // Rows of cluster 4 under arm 2 are dropped, so one cell takes the arm's fallback.
    for (int64_t i = 0; i < n; ++i)
        if (labels[size_t(i)] == 4 && rct.arm[size_t(i)] == 2) rct.arm[size_t(i)] = 1;
    std::vector<double> population = {10, 20, 30, 40, 50};
    for (const char* shrinkage : {"none", "empirical_bayes"}) {
        EstimateParams params;
        params.shrinkage = shrinkage;
        params.lcb_z = 1.0;
        ClusterTable one = estimate_clusters(rct, labels.data(), k, population, params);
        ASSERT_TRUE(one.filled[one.index(4, 2)]);
        for (int ranks : {2, 3}) {
            auto tables = run_on_ranks<ClusterTable>(ranks, [&](Communicator& comm) {
                return estimate_clusters(rct, labels.data(), k, population, params, comm);
            });
            for (const ClusterTable& table : tables) {
                EXPECT_EQ(table.count, one.count) << shrinkage << ", " << ranks << " ranks";
                EXPECT_EQ(table.filled, one.filled);
                // Fixed-order sums: the same bits on every rank count.
                EXPECT_EQ(table.value, one.value);
                EXPECT_EQ(table.cost, one.cost);
                EXPECT_EQ(table.value_se, one.value_se);
                EXPECT_EQ(table.cost_se, one.cost_se);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data-parallel network training

// Outcomes that depend on features and arm, so the network has something to learn.
Dataset training_rows(int64_t n, uint64_t seed) {
    std::mt19937_64 engine(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    Dataset data;
    data.source = "generated(seed=" + std::to_string(seed) + ")";
    data.n = n;
    data.d = 4;
    data.m = 2;
    for (int64_t i = 0; i < n; ++i) {
        float f[4];
        for (float& v : f) v = uniform(engine);
        data.x.insert(data.x.end(), f, f + 4);
        int32_t arm = int32_t(engine() % 2);
        data.arm.push_back(arm);
        data.value.push_back(f[0] + arm * (0.5f + f[1]) + 0.1f * uniform(engine));
        data.cost.push_back(arm * (1.0f + 0.5f * f[2] * f[2]));
    }
    return data;
}

struct FitOutcome {
    TrainingReport report;
    std::vector<float> parameters;
};

TEST(RanksNetworkTest, DataParallelTrainingFollowsTheOneProcessTraining) {
    // 257 rows in batches of 64 leave a last batch of one row: on 2 and 3 ranks the later
    // ranks get no rows of it and must add a zero gradient, not skip the sum.
    QuietLog quiet;
    Dataset train = training_rows(257, 1), validation = training_rows(101, 2);
    MultiTaskNetworkParams params;
    params.hidden1 = 16;
    params.hidden2 = 8;
    params.head_hidden = 8;
    params.batch_size = 64;
    params.max_epochs = 4;
    params.patience = 10;
    params.learning_rate = 0.01;
    params.seed = 5;
    auto fit = [&](Communicator& comm) {
        MultiTaskNetwork network(params, 4, 2, 0);
        FitOutcome outcome;
        outcome.report = network.fit(train, validation, cpu_backend(), comm);
        outcome.parameters = network.parameters();
        return outcome;
    };
    FitOutcome one = fit(local_communicator());
    for (int ranks : {2, 3, 5}) {
        auto outcomes = run_on_ranks<FitOutcome>(ranks, fit);
        for (const FitOutcome& outcome : outcomes) {
            // Gradients and losses are added in one fixed order of batch parts, so every rank
            // count ends with the one-process weights and losses, bit for bit.
            EXPECT_EQ(outcome.parameters, one.parameters) << ranks << " ranks";
            ASSERT_EQ(outcome.report.epochs.size(), one.report.epochs.size());
            EXPECT_EQ(outcome.report.best_epoch, one.report.best_epoch);
            for (size_t e = 0; e < one.report.epochs.size(); ++e) {
                const EpochRecord& a = one.report.epochs[e];
                const EpochRecord& b = outcome.report.epochs[e];
                EXPECT_EQ(b.train_loss, a.train_loss) << ranks << " ranks, epoch " << e;
                EXPECT_EQ(b.validation_loss, a.validation_loss) << ranks << " ranks, epoch " << e;
            }
        }
    }
}

TEST(RanksNetworkTest, ValidationLossIsTheWholeSetsLossOnEveryRank) {
    // With no training epochs to differ, the summed validation loss of the first epoch must
    // equal the loss of the validation rows as one batch (loss_and_gradient), independently of
    // how the rows are sharded. One epoch at learning rate 0 keeps the weights.
    QuietLog quiet;
    Dataset train = training_rows(90, 3), validation = training_rows(77, 4);
    MultiTaskNetworkParams params;
    params.hidden1 = 8;
    params.hidden2 = 4;
    params.head_hidden = 4;
    params.max_epochs = 1;
    params.learning_rate = 0.0;
    params.seed = 8;
    auto outcomes = run_on_ranks<double>(3, [&](Communicator& comm) {
        MultiTaskNetwork network(params, 4, 2, 0);
        return network.fit(train, validation, cpu_backend(), comm).epochs[0].validation_loss;
    });
    MultiTaskNetwork reference(params, 4, 2, 0);
    reference.configure_tasks(train, &validation);
    // loss_and_gradient weighs rows by the validation set's own arm counts, as fit does.
    double whole = reference.loss_and_gradient(validation, cpu_backend(), nullptr);
    for (double loss : outcomes) EXPECT_NEAR(loss, whole, 1e-6 * whole);
}

}  // namespace
}  // namespace ca
