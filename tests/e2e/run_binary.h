// Helpers for end-to-end tests: run the clusteralloc binary, capture its output and exit code.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace ca::testing {

struct CommandResult {
    int exit_code = -1;
    std::string output;  ///< stdout and stderr together
};

inline std::string binary_path() {
    const char* path = std::getenv("CA_BINARY");
    return path ? path : "clusteralloc";
}

// Runs a shell command line; its stdout and stderr together, and its exit status.
inline CommandResult run_shell(const std::string& command) {
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

inline CommandResult run_clusteralloc(const std::string& arguments) {
    return run_shell("'" + binary_path() + "' " + arguments);
}

inline std::string write_text(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << text;
    return path.string();
}

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

inline std::filesystem::path fresh_directory(const std::string& name) {
    // The process id keeps concurrent test runs (several build folders) apart.
    std::filesystem::path root =
        std::filesystem::path(::testing::TempDir()) / (name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root);
    return root;
}

}  // namespace ca::testing
