// Shared by the CPU benchmarks: wall-clock timing, medians, peak memory and the one-JSON-object-
// per-line output that bench/run_benchmarks.sh collects into results/benchmarks.md.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ca::bench {

inline double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// Seconds one call of work takes.
template <typename Work>
double time_once(Work&& work) {
    const double start = now_seconds();
    work();
    return now_seconds() - start;
}

inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

/// Peak resident memory of this process so far, MiB.
inline double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;
}

/// Integer argument i of the command line, or fallback.
inline long argument(int argc, char** argv, int i, long fallback) {
    return argc > i ? std::strtol(argv[i], nullptr, 10) : fallback;
}

/// One result line: {"bench": ..., "figure": ..., "value": ..., "unit": ..., extra fields}.
inline void emit(const std::string& bench, const std::string& figure, double value,
                 const std::string& unit, nlohmann::json extra = nlohmann::json::object()) {
    extra["bench"] = bench;
    extra["figure"] = figure;
    extra["value"] = value;
    extra["unit"] = unit;
    std::printf("%s\n", extra.dump().c_str());
    std::fflush(stdout);
}

}  // namespace ca::bench
