// Training throughput of the multi-task network: D=12, trunk 256-128, value and cost heads of
// 64 -> M=5, batch 4096, Adam, MSE, on random rows. The anchor is the same network in PyTorch
// (bench/training_anchor.py) with the same batch and threads. Usage: bench_training [rows]
// [epochs]; prints one JSON line.
#include <omp.h>

#include <random>

#include "bench/bench_util.h"
#include "core/log.h"
#include "core/multitask_network.h"
#include "kernels/backend.h"

namespace {

using namespace ca;

constexpr int kFeatures = 12;
constexpr int kArms = 5;

// Random standard-normal features, uniformly assigned arms, value and cost that depend on both
// (the numbers only need to keep Adam busy, not to mean anything).
Dataset random_rows(int64_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Dataset data;
    data.source = "bench";
    data.n = n;
    data.d = kFeatures;
    data.m = kArms;
    for (int f = 0; f < kFeatures; ++f) data.feature_names.push_back("f" + std::to_string(f));
    for (int j = 0; j < kArms; ++j) data.arm_names.push_back("arm" + std::to_string(j));
    data.x.resize(size_t(n) * kFeatures);
    for (float& v : data.x) v = normal(rng);
    for (int64_t i = 0; i < n; ++i) {
        int arm = int(rng() % kArms);
        float signal = data.x[size_t(i) * kFeatures] + 0.5f * arm;
        data.arm.push_back(arm);
        data.value.push_back(std::max(0.0f, 10.0f + 5.0f * signal + normal(rng)));
        data.cost.push_back(arm == 0 ? 0.0f : std::max(0.0f, arm + 0.3f * normal(rng)));
        data.user_id.push_back(i);
    }
    return data;
}

}  // namespace

int main(int argc, char** argv) {
    const int64_t rows = bench::argument(argc, argv, 1, 262144);
    const int epochs = int(bench::argument(argc, argv, 2, 3));
    set_log_level(LogLevel::kWarning);

    MultiTaskNetworkParams params;
    params.hidden1 = 256;
    params.hidden2 = 128;
    params.head_hidden = 64;
    params.batch_size = 4096;
    params.max_epochs = epochs;
    params.patience = epochs + 1;
    params.value_loss = "mse";
    params.seed = 3;
    Dataset train = random_rows(rows, 1);
    // A small validation set: early stopping needs one, and its cost is not counted.
    Dataset validation = random_rows(4096, 2);
    MultiTaskNetwork network(params, kFeatures, kArms, 0);
    TrainingReport report = network.fit(train, validation, cpu_backend());

    bench::emit("training", "samples_per_s", report.samples_per_second, "samples/s",
                {{"rows", rows}, {"epochs", int(report.epochs.size())},
                 {"threads", omp_get_max_threads()}});
    return 0;
}
