// The run command: one config over its seeds; prints the budget x method table and writes the
// run folder atomically (staged beside its final name, renamed when complete). Under mpirun or
// srun the ranks share the work and rank 0 alone prints and writes.
#include "experiments/run_command.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "core/communicator.h"
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

// Every rank computes; rank 0 alone prints and writes. A failing rank aborts every process
// without unwinding, which would leave a staged folder behind, so with several ranks rank 0
// only probes the output path up front and stages it once every rank has finished.
int run_on_ranks(const ConfigNode& root, const std::string& config_path,
                 const ExperimentOverrides& overrides, const std::string& out_dir,
                 const std::string& command_line, Communicator& comm) {
    const bool writer = comm.rank() == 0;
    // Staged before the long work, so an unwritable output path fails at once.
    std::optional<StagedDirectory> staged;
    if (writer) staged.emplace(out_dir);
    if (comm.size() > 1) staged.reset();

    ExperimentResult result = run_experiment(root, config_path, overrides, command_line, comm);
    comm.barrier();
    if (!writer) return 0;
    if (!staged) staged.emplace(out_dir);
    std::cout << format_console_table(result.summary, result.title) << std::flush;
    write_experiment(result, *staged);
    staged->commit();

    char line[256];
    std::snprintf(line, sizeof(line), "wrote %s (%.1f s on %d rank%s, peak RSS %.0f MiB)",
                  out_dir.c_str(), double(result.run_info["seconds"]), comm.size(),
                  comm.size() == 1 ? "" : "s", peak_rss_mib());
    log_info(line);
    return 0;
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

    std::unique_ptr<Communicator> comm = communicator_from_config(root, overrides.device);
    set_log_rank(comm->rank());
    if (comm->size() == 1)
        return run_on_ranks(root, config_path, overrides, out_dir, joined_command(argc, argv),
                            *comm);
    // One rank's error must end the others, which may be waiting in a collective for it.
    try {
        return run_on_ranks(root, config_path, overrides, out_dir, joined_command(argc, argv),
                            *comm);
    } catch (const std::exception& error) {
        comm->abort("error: rank " + std::to_string(comm->rank()) + ": " + error.what());
    }
    return 1;  // not reached: abort() ends the process
}

}  // namespace ca
