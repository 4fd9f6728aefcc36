// Command-line flags: "--name value" pairs and bare "--switch"es, checked against the flags a
// command declares so a typo is an error that lists what the command accepts.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ca {

// Thrown by CliOptions::parse for --help; main prints the text and exits 0.
struct HelpRequested {
    std::string text;
};

struct FlagSpec {
    std::string name;         ///< without the leading dashes
    bool takes_value = true;
    std::string help;
};

class CliOptions {
public:
    /// Parses argv[first..argc); throws ConfigError on an unknown flag or a missing value.
    static CliOptions parse(int argc, char** argv, int first, const std::vector<FlagSpec>& specs);

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const;
    long get_int(const std::string& name, long fallback, long low, long high) const;
    double get_double(const std::string& name, double fallback) const;
    std::string required(const std::string& name) const;

private:
    std::map<std::string, std::string> values_;
};

/// "  --config FILE   the run's JSON config" lines for a usage text.
std::string describe_flags(const std::vector<FlagSpec>& specs);

}  // namespace ca
