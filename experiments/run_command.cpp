// The run command: one config over its seeds; prints the budget x method table and writes the
// run folder atomically (staged beside its final name, renamed when complete).
#include "experiments/run_command.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/log.h"
#include "experiments/cli_options.h"
#include "experiments/experiment.h"
#include "experiments/run_metadata.h"

namespace ca {

namespace {

const std::vector<FlagSpec> kRunFlags = {
    {"config", true, "JSON config of the run (required)"},
    {"data", true, "data file, replacing data.path of the config"},
    {"out", true, "output folder (default out/<config name>)"},
    {"seeds", true, "number of seeds, replacing evaluation.seeds (default 3)"},
    {"epochs", true, "network training epochs at most, replacing network.max_epochs"},
    {"device", true, "cpu or cuda (default: the config's device, else cpu)"},
    {"verbose", false, "debug-level log lines"},
    {"quiet", false, "warnings and errors only"},
};

std::string joined_command(int argc, char** argv) {
    std::string line = "clusteralloc";
    for (int i = 1; i < argc; ++i) line += std::string(" ") + argv[i];
    return line;
}

}  // namespace

int run_command(int argc, char** argv) {
    CliOptions options = CliOptions::parse(argc, argv, 2, kRunFlags);
    if (options.has("verbose")) set_log_level(LogLevel::kDebug);
    if (options.has("quiet")) set_log_level(LogLevel::kWarning);
    std::string config_path = options.required("config");
    ConfigNode root = ConfigNode::from_file(config_path);
    check_experiment_keys(root);

    ExperimentOverrides overrides;
    overrides.data_path = options.get("data");
    overrides.seeds = int(options.get_int("seeds", 0, 1, 1000));
    overrides.epochs = int(options.get_int("epochs", 0, 1, 100000));
    overrides.device = options.get("device");
    std::string name = root.string("name", std::filesystem::path(config_path).stem().string());
    std::string out_dir = options.get("out", "out/" + name);

    // Staged before the long work, so an unwritable output path fails at once.
    StagedDirectory staged(out_dir);
    ExperimentResult result = run_experiment(root, config_path, overrides,
                                             joined_command(argc, argv));
    std::cout << format_console_table(result.summary, result.title) << std::flush;
    write_experiment(result, staged);
    staged.commit();

    char line[256];
    std::snprintf(line, sizeof(line), "wrote %s (%.1f s, peak RSS %.0f MiB)", out_dir.c_str(),
                  double(result.run_info["seconds"]), peak_rss_mib());
    log_info(line);
    return 0;
}

}  // namespace ca
