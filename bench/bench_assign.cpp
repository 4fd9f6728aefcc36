// Assignment latency and throughput of the serving path (student -> cluster -> table -> arm),
// one row at a time and in blocks, against the same student in PyTorch on the CPU
// (bench/assign_anchor.py, one thread on both sides). Usage: bench_assign [rows] [K] [D].
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/distillation.h"
#include "core/policy_file.h"
#include "core/policy_serving.h"
#include "kernels/backend.h"

extern "C" void openblas_set_num_threads(int threads);

namespace {

using namespace ca;

struct BenchShape {
    int64_t rows = 200000;        ///< users served per batched measurement
    int k = 64;                   ///< clusters
    int d = 12;                   ///< raw numeric columns = encoded width
    int m = 5;                    ///< arms
    int hidden = 64;              ///< student hidden width (the default)
    int64_t block = 4096;         ///< rows per batch
    int64_t single_rows = 20000;  ///< rows served one by one
};

// A policy of the benchmark's shape: numeric columns already standardised, random estimates
// with value rising in cost, and the solved budget grid.
ServingPolicy bench_policy(const BenchShape& shape) {
    nlohmann::json columns = nlohmann::json::array();
    for (int j = 0; j < shape.d; ++j)
        columns.push_back({{"name", "f" + std::to_string(j)},
                           {"type", "numeric"},
                           {"mean", 0.0},
                           {"scale", 1.0}});
    ServingPolicy policy;
    policy.encoder = FeatureEncoder::from_json({{"missing", "impute_mean"}, {"columns", columns}});
    for (int j = 0; j < shape.m; ++j) policy.arm_names.push_back("arm" + std::to_string(j));
    policy.k = shape.k;
    policy.student = Mlp({shape.d, shape.hidden, shape.k}, 7);

    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    ClusterTable table = ClusterTable::zeros(shape.k, shape.m);
    for (int c = 0; c < shape.k; ++c) {
        table.population[c] = 100 + 1000 * unit(rng);
        for (int j = 0; j < shape.m; ++j) {
            table.cost[table.index(c, j)] = j;
            table.value[table.index(c, j)] = std::sqrt(double(j)) * unit(rng);
        }
    }
    policy.population = table.population;
    policy.value = table.value;
    policy.cost = table.cost;
    policy.budgets = solve_policy_budgets(table, ClusterSolverParams{});
    return policy;
}

double median_seconds(int repeats, const std::function<void()>& work) {
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
        auto start = std::chrono::steady_clock::now();
        work();
        seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    return seconds[seconds.size() / 2];
}

struct Measured {
    double single_student_us = 0, single_full_us = 0;
    double batched_student_us = 0, batched_full_us = 0;
};

// Student path: encoded rows -> clusters -> arms. Full path adds encoding the string rows.
Measured measure_cpp(PolicyServer& server, const BenchShape& shape, const std::vector<float>& x,
                     const std::vector<std::vector<std::string>>& raw,
                     const ServedAllocation& allocation) {
    Backend& backend = cpu_backend();
    const int d = shape.d;
    std::vector<int32_t> clusters(shape.rows);
    std::vector<int> arms(shape.rows);
    std::vector<float> encoded(size_t(shape.rows) * d);
    int64_t checksum = 0;

    auto serve_block = [&](int64_t start, int64_t rows, bool encode) {
        if (encode)
            for (int64_t i = start; i < start + rows; ++i)
                server.encode_row(raw[i % raw.size()], encoded.data() + i * d);
        const float* in = encode ? encoded.data() : x.data();
        server.predict_clusters(in + start * d, rows, backend, clusters.data() + start);
        for (int64_t i = start; i < start + rows; ++i)
            arms[i] = arm_for_user(allocation, clusters[i], i);
    };
    auto run = [&](int64_t rows, int64_t block, bool encode) {
        return [&, rows, block, encode] {
            for (int64_t start = 0; start < rows; start += block)
                serve_block(start, std::min(block, rows - start), encode);
            checksum += arms[rows - 1];
        };
    };
    Measured out;
    const double single = 1e6 / double(shape.single_rows), batched = 1e6 / double(shape.rows);
    out.single_student_us = single * median_seconds(3, run(shape.single_rows, 1, false));
    out.single_full_us = single * median_seconds(3, run(shape.single_rows, 1, true));
    out.batched_student_us = batched * median_seconds(3, run(shape.rows, shape.block, false));
    out.batched_full_us = batched * median_seconds(3, run(shape.rows, shape.block, true));
    if (checksum < 0) std::puts("");  // keeps the work observable
    return out;
}

// Writes what the anchor needs: the student's flat weights, the cluster -> arm table at one
// budget, and a sample of rows with the clusters C++ gave them (the anchor checks it agrees).
std::string export_for_anchor(const ServingPolicy& policy, const BenchShape& shape,
                              const std::vector<float>& x, PolicyServer& server,
                              const ServedAllocation& allocation) {
    const int64_t sample = 1000;
    std::vector<int32_t> clusters(sample);
    server.predict_clusters(x.data(), sample, cpu_backend(), clusters.data());
    nlohmann::json document = {
        {"widths", policy.student.layout().widths()},
        {"parameters", policy.student.parameters()},
        {"arms", allocation.arms},
        {"rows", shape.rows},
        {"single_rows", shape.single_rows},
        {"block", shape.block},
        {"sample_x", std::vector<float>(x.begin(), x.begin() + sample * shape.d)},
        {"sample_clusters", clusters}};
    std::string path = (std::filesystem::temp_directory_path() /
                        ("bench_assign_student_" + std::to_string(getpid()) + ".json"))
                           .string();
    std::ofstream(path) << document.dump();
    return path;
}

nlohmann::json run_anchor(const std::string& weights_path) {
    std::string command = "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 '" +
                          std::string(CA_SOURCE_DIR) + "/bench/assign_anchor.py' '" + weights_path +
                          "' 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return {{"skipped", "cannot start /usr/bin/python3"}};
    std::string output;
    char buffer[4096];
    size_t read = 0;
    while ((read = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, read);
    int status = pclose(pipe);
    size_t last_line = output.rfind('{');
    if (status != 0 || last_line == std::string::npos)
        return {{"skipped", "the anchor failed: " + output}};
    return nlohmann::json::parse(output.substr(last_line), nullptr, false);
}

void print_row(const char* label, double per_row_us) {
    std::printf("  %-40s %10.3f %14.0f\n", label, per_row_us, 1e6 / per_row_us);
}

}  // namespace

int main(int argc, char** argv) {
    BenchShape shape;
    if (argc > 1) shape.rows = std::max(4096L, std::atol(argv[1]));
    if (argc > 2) shape.k = std::max(2, std::atoi(argv[2]));
    if (argc > 3) shape.d = std::max(1, std::atoi(argv[3]));
    // One thread on both sides: serving scales out over processes, not within one request.
    omp_set_num_threads(1);
    openblas_set_num_threads(1);

    ServingPolicy policy = bench_policy(shape);
    PolicyServer server(policy);
    ServedAllocation allocation =
        lookup_budget(policy, 0.5 * policy.budgets.back().budget_per_capita,
                      BudgetMode::kInterpolate)
            .allocation;
    std::mt19937_64 rng(9);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(size_t(shape.rows) * shape.d);
    for (float& v : x) v = normal(rng);
    std::vector<std::vector<std::string>> raw(4096, std::vector<std::string>(shape.d));
    for (size_t i = 0; i < raw.size(); ++i)
        for (int j = 0; j < shape.d; ++j) raw[i][j] = std::to_string(x[i * shape.d + j]);

    Measured cpp = measure_cpp(server, shape, x, raw, allocation);
    std::string weights = export_for_anchor(policy, shape, x, server, allocation);
    nlohmann::json anchor = run_anchor(weights);
    std::filesystem::remove(weights);

    std::printf(
        "assign benchmark: student %d-%d-%d (%lld parameters), M = %d arms, %lld rows, "
        "blocks of %lld, 1 thread\n",
        shape.d, shape.hidden, shape.k, (long long)policy.student.parameter_count(), shape.m,
        (long long)shape.rows, (long long)shape.block);
    std::printf("  %-40s %10s %14s\n", "", "us / row", "rows / s");
    print_row("C++ single row: student -> arm", cpp.single_student_us);
    print_row("C++ single row: encode -> student -> arm", cpp.single_full_us);
    print_row("C++ batched: student -> arm", cpp.batched_student_us);
    print_row("C++ batched: encode -> student -> arm", cpp.batched_full_us);
    if (anchor.is_discarded() || anchor.contains("skipped")) {
        std::printf("PyTorch anchor skipped: %s\n",
                    anchor.is_discarded() ? "unreadable output"
                                          : anchor["skipped"].get<std::string>().c_str());
        return 0;
    }
    double torch_single = anchor["single_us"], torch_batched = anchor["batched_us"];
    print_row("PyTorch single row: student -> arm", torch_single);
    print_row("PyTorch batched: student -> arm", torch_batched);
    std::printf("PyTorch %s, clusters agree on %d of %d sample rows\n",
                anchor["torch"].get<std::string>().c_str(), anchor["agree"].get<int>(),
                anchor["sample"].get<int>());
    std::printf("ratio PyTorch time / C++ time (student path): single row %.2fx, batched %.2fx\n",
                torch_single / cpp.single_student_us, torch_batched / cpp.batched_student_us);
    return 0;
}
