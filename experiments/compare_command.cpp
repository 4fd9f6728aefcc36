// The compare command. Its config names dataset configs and what to override in each:
//   {"name": ..., "datasets": [{"config": "configs/hillstrom.json", "overrides": {...}}, ...],
//    "methods": [...], "seeds": 5, "overrides": {...}}
// Overrides are JSON merge patches applied to each dataset config (shared first, then the
// dataset's own). A dataset whose data file is absent is skipped with a message.
#include "experiments/compare_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "core/communicator.h"
#include "core/errors.h"
#include "core/log.h"
#include "experiments/cli_options.h"
#include "experiments/experiment.h"
#include "experiments/run_metadata.h"

namespace ca {

namespace {

namespace fs = std::filesystem;

const std::vector<FlagSpec> kCompareFlags = {
    {"config", true, "JSON config of the comparison (required)"},
    {"out", true, "output folder (default results/<comparison name>)"},
    {"seeds", true, "number of seeds, replacing the comparison's seeds"},
    {"epochs", true, "network training epochs at most (quick checks)"},
    {"device", true, "cpu or cuda"},
    {"quiet", false, "warnings and errors only"},
};

struct DatasetEntry {
    std::string config_path;
    nlohmann::json patched;  ///< the dataset config after the overrides
};

// Relative paths in a comparison are taken from the working directory, else the source tree.
std::string resolve(const std::string& path) {
    if (fs::path(path).is_absolute() || fs::exists(path)) return path;
    std::string in_tree = std::string(CA_SOURCE_DIR) + "/" + path;
    return fs::exists(in_tree) ? in_tree : path;
}

std::vector<DatasetEntry> read_datasets(const ConfigNode& root) {
    ConfigNode datasets = root.child("datasets");
    if (!datasets.is_array() || datasets.size() == 0)
        root.fail("datasets", "expected a non-empty array of {\"config\": FILE} objects");
    std::vector<DatasetEntry> entries;
    for (size_t i = 0; i < datasets.size(); ++i) {
        ConfigNode item = datasets.element(i);
        item.allow_only({"config", "overrides"});
        DatasetEntry entry;
        entry.config_path = resolve(item.required_string("config"));
        ConfigNode dataset = ConfigNode::from_file(entry.config_path);
        entry.patched = dataset.json();
        if (root.has("overrides")) entry.patched.merge_patch(root.json()["overrides"]);
        if (item.has("overrides")) entry.patched.merge_patch(item.json()["overrides"]);
        entries.push_back(entry);
    }
    return entries;
}

std::string data_file_of(const nlohmann::json& config) {
    if (!config.contains("data")) return "";
    const auto& data = config["data"];
    if (data.value("source", "csv") == "synthetic") return "";
    return data.value("path", "");
}

std::string joined_command(int argc, char** argv) {
    std::string line = "clusteralloc";
    for (int i = 1; i < argc; ++i) line += std::string(" ") + argv[i];
    return line;
}

// The overview: one section per dataset with its table, and the list of skipped datasets.
std::string overview_markdown(const std::string& title,
                              const std::vector<ExperimentResult>& results,
                              const std::vector<std::string>& skipped) {
    std::ostringstream out;
    out << "# " << title << "\n\n";
    for (const auto& result : results) {
        out << "## " << result.name << "\n\n"
            << "Plots: [" << result.name << "/budget_curve.svg](" << result.name
            << "/budget_curve.svg), [normalised](" << result.name
            << "/budget_curve_normalized.svg)\n\n";
        std::string body = summary_markdown(result.summary, result.title, result.provenance);
        out << body.substr(body.find('\n') + 1) << "\n";
    }
    if (!skipped.empty()) {
        out << "## Skipped\n\n";
        for (const auto& line : skipped) out << "- " << line << "\n";
    }
    return out.str();
}

// Every dataset's run is shared by the ranks of the launch (as in `run`); rank 0 alone prints
// and writes. With several ranks the output folder is staged only once every dataset is done,
// so a rank that fails (and aborts the job) leaves no staged folder behind.
int compare_on_ranks(const ConfigNode& root, const std::string& config_path,
                     const ExperimentOverrides& overrides,
                     const std::vector<DatasetEntry>& datasets, const std::string& out_dir,
                     const std::string& command, Communicator& comm) {
    const bool writer = comm.rank() == 0;
    std::optional<StagedDirectory> staged;
    if (writer) staged.emplace(out_dir);  // an unwritable output path fails at once
    if (comm.size() > 1) staged.reset();

    // Rank 0 decides which datasets are absent: ranks that saw different files would otherwise
    // run different datasets and meet in different collectives.
    std::vector<char> absent(datasets.size(), 0);
    for (size_t d = 0; d < datasets.size(); ++d) {
        std::string data_file = data_file_of(datasets[d].patched);
        absent[d] = !data_file.empty() && !fs::exists(resolve(data_file));
    }
    comm.broadcast(absent);

    std::vector<ExperimentResult> results;
    std::vector<std::string> skipped;
    for (size_t d = 0; d < datasets.size(); ++d) {
        const DatasetEntry& dataset = datasets[d];
        std::string data_file = data_file_of(dataset.patched);
        if (absent[d]) {
            std::string line =
                dataset.config_path + ": data file " + data_file + " is absent; skipped";
            log_warning(line);
            skipped.push_back(line);
            continue;
        }
        ConfigNode node = ConfigNode::from_json(dataset.patched, dataset.config_path);
        results.push_back(run_experiment(node, dataset.config_path, overrides, command, comm));
        if (writer)
            std::cout << format_console_table(results.back().summary, results.back().title) << "\n"
                      << std::flush;
    }
    if (results.empty()) CA_THROW(InputError, config_path << ": every dataset was skipped");
    comm.barrier();
    if (!writer) return 0;

    if (!staged) staged.emplace(out_dir);
    for (const ExperimentResult& result : results) {
        fs::create_directories(staged->path(result.name));
        write_experiment(result, *staged, result.name + "/");
    }
    const std::string title =
        root.string("name", fs::path(config_path).stem().string()) +
        (root.has("description") ? ": " + root.string("description", "") : "");
    staged->write("summary.md", overview_markdown(title, results, skipped));
    staged->write("run_info.json", nlohmann::json{{"command", command},
                                                  {"config", root.json()},
                                                  {"revision", git_revision()},
                                                  {"machine", machine_description()},
                                                  {"ranks", comm.size()},
                                                  {"skipped", skipped}}
                                           .dump(2) +
                                       "\n");
    staged->commit();
    log_info("wrote " + staged->final_path());
    return 0;
}

}  // namespace

int compare_command(int argc, char** argv) {
    CliOptions options = CliOptions::parse(argc, argv, 2, kCompareFlags);
    if (options.has("quiet")) set_log_level(LogLevel::kWarning);
    std::string config_path = options.required("config");
    ConfigNode root = ConfigNode::from_file(config_path);
    root.allow_only({"name", "description", "datasets", "methods", "seeds", "overrides"});
    std::string name = root.string("name", fs::path(config_path).stem().string());

    ExperimentOverrides overrides;
    overrides.methods = root.strings("methods", {});
    overrides.seeds = int(root.integer_in("seeds", 0, 0, 1000));
    if (options.has("seeds")) overrides.seeds = int(options.get_int("seeds", 3, 1, 1000));
    overrides.epochs = int(options.get_int("epochs", 0, 1, 100000));
    overrides.device = options.get("device");
    std::vector<DatasetEntry> datasets = read_datasets(root);

    // Check every dataset config before the first long run.
    for (const auto& dataset : datasets)
        validate_experiment(ConfigNode::from_json(dataset.patched, dataset.config_path), overrides);

    const std::string out_dir = options.get("out", "results/" + name);
    const std::string command = joined_command(argc, argv);
    std::unique_ptr<Communicator> comm = make_communicator(
        "auto", "command line", overrides.device.empty() ? "cpu" : overrides.device);
    set_log_rank(comm->rank());
    if (comm->size() == 1)
        return compare_on_ranks(root, config_path, overrides, datasets, out_dir, command, *comm);
    // One rank's error must end the others, which may be waiting in a collective for it.
    try {
        return compare_on_ranks(root, config_path, overrides, datasets, out_dir, command, *comm);
    } catch (const std::exception& error) {
        comm->abort("error: rank " + std::to_string(comm->rank()) + ": " + error.what());
    }
    return 1;  // not reached: abort() ends the process
}

}  // namespace ca
