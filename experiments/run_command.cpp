// The run command: read the config, load the data once, evaluate every method on each seed's
// split, print the budget x method table and write the run folder atomically.
#include "experiments/run_command.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/atomic_output.h"
#include "core/config.h"
#include "core/data_source.h"
#include "core/errors.h"
#include "core/hrc_method.h"
#include "core/log.h"
#include "experiments/budget_evaluation.h"
#include "experiments/cli_options.h"
#include "experiments/method_registry.h"
#include "experiments/run_metadata.h"
#include "experiments/run_report.h"

namespace ca {

namespace {

const std::vector<FlagSpec> kRunFlags = {
    {"config", true, "JSON config of the run (required)"},
    {"data", true, "data file, replacing data.path of the config"},
    {"out", true, "output folder (default out/<config name>)"},
    {"seeds", true, "number of seeds, replacing evaluation.seeds (default 3)"},
    {"device", true, "cpu or cuda (default: the config's device, else cpu)"},
    {"verbose", false, "debug-level log lines"},
    {"quiet", false, "warnings and errors only"},
};

// Keys of the top-level config object; each section is checked by its own parser.
void check_top_level(const ConfigNode& root) {
    root.allow_only({"name", "description", "data", "network", "kmeans", "estimates", "solver",
                     "hrc", "evaluation", "device", "baselines", "distillation"});
}

std::string default_out_dir(const ConfigNode& root, const std::string& config_path) {
    std::string name = root.string("name", std::filesystem::path(config_path).stem().string());
    return "out/" + name;
}

nlohmann::json timings_json(const StageTimer& timer) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [stage, seconds] : timer.stages()) out[stage] = seconds;
    return out;
}

}  // namespace

int run_command(int argc, char** argv) {
    CliOptions options = CliOptions::parse(argc, argv, 2, kRunFlags);
    if (options.has("verbose")) set_log_level(LogLevel::kDebug);
    if (options.has("quiet")) set_log_level(LogLevel::kWarning);
    std::string config_path = options.required("config");
    ConfigNode root = ConfigNode::from_file(config_path);
    check_top_level(root);

    StageTimer timer;
    double start = wall_seconds();
    std::string device = options.get("device", root.choice("device", "cpu", {"cpu", "cuda"}));
    std::unique_ptr<Backend> backend = make_backend(device);
    EvaluationParams evaluation = EvaluationParams::from_config(root.child("evaluation"));
    if (options.has("seeds")) evaluation.seeds = int(options.get_int("seeds", 3, 1, 1000));
    MultiTaskNetworkParams network = parse_network_params(root.child("network"));
    HrcParams::from_config(root);  // checks the HRC sections before any long work starts
    for (const auto& name : evaluation.methods) make_method(name, 0, root);
    std::string out_dir = options.get("out", default_out_dir(root, config_path));
    std::string title = root.string("name", "run") + " (" + root.string("description", "") + ")";

    // Stage the output folder before the long work, so an unwritable path fails early.
    StagedDirectory staged(out_dir);
    DataSource source = [&] {
        ScopedStage stage(timer, "load data");
        return DataSource::open(root.child("data"), options.get("data"));
    }();
    log_info("data: " + source.description() + "; propensities: " + source.propensity_source());

    std::vector<SplitOutcome> outcomes;
    MethodFactory factory = [&root](const std::string& name, uint64_t seed) {
        return make_method(name, seed, root);
    };
    for (int s = 0; s < evaluation.seeds; ++s) {
        uint64_t seed = evaluation.first_seed + uint64_t(s);
        log_info("seed " + std::to_string(seed) + " (" + std::to_string(s + 1) + "/" +
                 std::to_string(evaluation.seeds) + ")");
        DataSplits splits = [&] {
            ScopedStage stage(timer, "split and encode");
            return source.split(seed);
        }();
        outcomes.push_back(
            evaluate_split(splits, evaluation, network, factory, *backend, seed, timer));
    }

    RunSummary summary = summarize(outcomes);
    std::string revision = git_revision();
    std::string table = format_console_table(summary, title);
    std::cout << table << std::flush;

    nlohmann::json used = root.json();
    used["evaluation"] = evaluation.to_json();
    used["network"] = to_json(network);
    nlohmann::json hrc_settings = HrcParams::from_config(root).to_json();
    used.update(hrc_settings);
    used["device"] = device;
    if (options.has("data")) used["data"]["path"] = options.get("data");
    double seconds = wall_seconds() - start;
    nlohmann::json run_info = {{"command", "run"},
                               {"config", config_path},
                               {"revision", revision},
                               {"machine", machine_description()},
                               {"data", source.description()},
                               {"propensity_source", source.propensity_source()},
                               {"device", backend->name()},
                               {"seconds", seconds},
                               {"peak_rss_mib", peak_rss_mib()},
                               {"stage_seconds", timings_json(timer)}};
    std::string provenance = "Command: `clusteralloc run --config " + config_path +
                             (options.has("data") ? " --data " + options.get("data") : "") +
                             " --seeds " + std::to_string(evaluation.seeds) +
                             "`; revision " + revision + "; data " + source.description() +
                             "; " + std::to_string(int(seconds)) + " s.";

    staged.write("config.json", used.dump(2) + "\n");
    staged.write("run_info.json", run_info.dump(2) + "\n");
    staged.write("metrics.json", metrics_json(summary, outcomes).dump(2) + "\n");
    staged.write("budget_curve.csv", budget_curve_csv(summary));
    staged.write("summary.md", summary_markdown(summary, title, provenance));
    staged.write("budget_curve.svg", budget_curve_svg(summary, title, false));
    if (summary.has_reference)
        staged.write("budget_curve_normalized.svg", budget_curve_svg(summary, title, true));
    if (summary.has_aucc) staged.write("cost_curve.svg", cost_curve_svg(outcomes[0], title));
    if (!outcomes[0].cluster_table_csv.empty())
        staged.write("cluster_table.csv", outcomes[0].cluster_table_csv);
    staged.commit();
    char line[200];
    std::snprintf(line, sizeof(line), "wrote %s (%.1f s, peak RSS %.0f MiB)", out_dir.c_str(),
                  seconds, peak_rss_mib());
    log_info(line);
    return 0;
}

}  // namespace ca
