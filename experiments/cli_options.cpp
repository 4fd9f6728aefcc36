// Flag parsing for the clusteralloc commands.
#include "experiments/cli_options.h"

#include <cstdlib>

#include "core/errors.h"

namespace ca {

CliOptions CliOptions::parse(int argc, char** argv, int first, const std::vector<FlagSpec>& specs) {
    CliOptions options;
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") throw HelpRequested{describe_flags(specs)};
        if (arg.rfind("--", 0) != 0)
            CA_THROW(ConfigError, "command line: unexpected argument \"" << arg
                                                                         << "\"; flags "
                                                                            "start with --\n"
                                                                         << describe_flags(specs));
        std::string name = arg.substr(2), value;
        size_t equals = name.find('=');
        bool inline_value = equals != std::string::npos;
        if (inline_value) {
            value = name.substr(equals + 1);
            name = name.substr(0, equals);
        }
        const FlagSpec* spec = nullptr;
        for (const auto& candidate : specs)
            if (candidate.name == name) spec = &candidate;
        if (!spec)
            CA_THROW(ConfigError, "command line: unknown flag --" << name << "\n"
                                                                  << describe_flags(specs));
        if (spec->takes_value && !inline_value) {
            if (i + 1 >= argc)
                CA_THROW(ConfigError, "command line: --" << name << " needs a value");
            value = argv[++i];
        }
        options.values_[name] = spec->takes_value ? value : "1";
    }
    return options;
}

std::string CliOptions::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

std::string CliOptions::required(const std::string& name) const {
    if (!has(name)) CA_THROW(ConfigError, "command line: --" << name << " is required");
    return get(name);
}

long CliOptions::get_int(const std::string& name, long fallback, long low, long high) const {
    if (!has(name)) return fallback;
    std::string text = get(name);
    char* end = nullptr;
    long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || value < low || value > high)
        CA_THROW(ConfigError, "command line: --" << name << " expects an integer in [" << low
                                                 << ", " << high << "], got \"" << text << "\"");
    return value;
}

double CliOptions::get_double(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    std::string text = get(name);
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0')
        CA_THROW(ConfigError,
                 "command line: --" << name << " expects a number, got \"" << text << "\"");
    return value;
}

std::string describe_flags(const std::vector<FlagSpec>& specs) {
    std::string out = "accepted flags:\n";
    for (const auto& spec : specs) {
        std::string left = "  --" + spec.name + (spec.takes_value ? " VALUE" : "");
        if (left.size() < 24) left.resize(24, ' ');
        out += left + " " + spec.help + "\n";
    }
    return out;
}

}  // namespace ca
