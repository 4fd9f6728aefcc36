// Provenance for results: git revision (read at run time from the source tree), machine
// description from /proc, and peak RSS from getrusage.
#include "experiments/run_metadata.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

namespace ca {

namespace {
std::string command_output(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return out;
    char buffer[256];
    while (std::fgets(buffer, sizeof(buffer), pipe)) out += buffer;
    pclose(pipe);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

std::string first_proc_value(const std::string& file, const std::string& key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) == 0) {
            size_t colon = line.find(':');
            if (colon == std::string::npos) continue;
            size_t start = line.find_first_not_of(" \t", colon + 1);
            return start == std::string::npos ? "" : line.substr(start);
        }
    }
    return "";
}
}  // namespace

std::string git_revision() {
    std::string dir = CA_SOURCE_DIR;
    std::string revision =
        command_output("git -C '" + dir + "' rev-parse --short HEAD 2>/dev/null");
    if (revision.empty()) return "unknown";
    std::string dirty = command_output("git -C '" + dir +
                                       "' status --porcelain --untracked-files=no 2>/dev/null");
    return dirty.empty() ? revision : revision + "-dirty";
}

nlohmann::json machine_description() {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    return {{"cpu", first_proc_value("/proc/cpuinfo", "model name")},
            {"logical_cores", std::thread::hardware_concurrency()},
            {"memory", first_proc_value("/proc/meminfo", "MemTotal")},
            {"hostname", host}};
}

double peak_rss_mib() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace ca
