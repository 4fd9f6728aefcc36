// run_experiment: config checks, data loading, per-seed evaluation, provenance.
#include "experiments/experiment.h"

#include <algorithm>
#include <filesystem>

#include "core/data_source.h"
#include "core/errors.h"
#include "core/hrc_method.h"
#include "core/log.h"
#include "core/schema.h"
#include "core/synthetic_generator.h"
#include "experiments/budget_evaluation.h"
#include "experiments/method_registry.h"
#include "experiments/run_metadata.h"

namespace ca {

namespace {

nlohmann::json timings_json(const StageTimer& timer) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [stage, seconds] : timer.stages()) out[stage] = seconds;
    return out;
}

}  // namespace

void check_experiment_keys(const ConfigNode& root) {
    root.allow_only({"name", "description", "data", "network", "kmeans", "estimates", "solver",
                     "hrc", "evaluation", "device", "baselines", "distillation", "ranks"});
}

void validate_experiment(const ConfigNode& root, const ExperimentOverrides& overrides) {
    check_experiment_keys(root);
    root.child("baselines").allow_only({"tsm_cf", "drp", "drm", "dfcl"});
    root.choice("device", "cpu", {"cpu", "cuda"});
    EvaluationParams evaluation = EvaluationParams::from_config(root.child("evaluation"));
    if (!overrides.methods.empty()) evaluation.methods = overrides.methods;
    parse_network_params(root.child("network"));
    HrcParams::from_config(root);
    DistillationParams::from_config(root.child("distillation"));
    for (const auto& name : evaluation.methods) make_method(name, 0, root);
    DataSchema schema = DataSource::parse_schema(root.child("data"), overrides.data_path);
    if (schema.source == DataSourceKind::kSynthetic)
        parse_synthetic_params(root.child("data").child("synthetic"));
}

ExperimentResult run_experiment(const ConfigNode& root, const std::string& config_path,
                                const ExperimentOverrides& overrides,
                                const std::string& command_line, Communicator& comm) {
    validate_experiment(root, overrides);
    StageTimer timer;
    double start = wall_seconds();

    // Every section is parsed before the long work, so a bad key fails in a second.
    std::string device = !overrides.device.empty()
                             ? overrides.device
                             : root.choice("device", "cpu", {"cpu", "cuda"});
    std::unique_ptr<Backend> backend = make_backend(device);
    EvaluationParams evaluation = EvaluationParams::from_config(root.child("evaluation"));
    if (overrides.seeds > 0) evaluation.seeds = overrides.seeds;
    if (!overrides.methods.empty()) evaluation.methods = overrides.methods;
    MultiTaskNetworkParams network = parse_network_params(root.child("network"));
    if (overrides.epochs > 0) network.max_epochs = overrides.epochs;
    HrcParams hrc = HrcParams::from_config(root);
    for (const auto& name : evaluation.methods) make_method(name, 0, root);
    DistillationPlan distillation{DistillationParams::from_config(root.child("distillation")), hrc};
    const auto& methods = evaluation.methods;
    bool has_hrc = std::find(methods.begin(), methods.end(), "HRC") != methods.end();
    if (distillation.params.enabled && !has_hrc)
        log_info("distillation: HRC is not among the methods; no student and no policy.json");

    ExperimentResult result;
    result.name = root.string("name", std::filesystem::path(config_path).stem().string());
    std::string description = root.string("description", "");
    result.title = description.empty() ? result.name : result.name + ": " + description;

    DataSource source = [&] {
        ScopedStage stage(timer, "load data");
        return DataSource::open(root.child("data"), overrides.data_path, comm);
    }();
    result.data_description = source.description();
    log_info("data: " + source.description() + "; propensities: " + source.propensity_source());

    MethodFactory factory = [&root](const std::string& name, uint64_t seed) {
        return make_method(name, seed, root);
    };
    for (int s = 0; s < evaluation.seeds; ++s) {
        uint64_t seed = evaluation.first_seed + uint64_t(s);
        log_info(result.name + ": seed " + std::to_string(seed) + " (" + std::to_string(s + 1) +
                 "/" + std::to_string(evaluation.seeds) + ")");
        DataSplits splits = [&] {
            ScopedStage stage(timer, "split and encode");
            return source.split(seed);
        }();
        distillation.build_policy = s == 0;
        result.outcomes.push_back(evaluate_split(splits, evaluation, network, factory, *backend,
                                                 seed, timer,
                                                 distillation.params.enabled ? &distillation
                                                                             : nullptr,
                                                 comm));
    }
    result.summary = summarize(result.outcomes);

    result.used_config = root.json();
    result.used_config["evaluation"] = evaluation.to_json();
    result.used_config["network"] = to_json(network);
    nlohmann::json hrc_settings = hrc.to_json();
    result.used_config.update(hrc_settings);
    result.used_config["device"] = device;
    result.used_config["distillation"] = distillation.params.to_json();
    if (!overrides.data_path.empty()) result.used_config["data"]["path"] = overrides.data_path;

    double seconds = wall_seconds() - start;
    std::string revision = git_revision();
    if (!result.outcomes.empty() && result.outcomes[0].policy) {
        ServingPolicy& policy = *result.outcomes[0].policy;
        policy.config = result.used_config;
        policy.revision = revision;
        policy.id_column = source.schema().id.name;
    }
    result.run_info = {{"command", command_line},
                       {"config", config_path},
                       {"revision", revision},
                       {"machine", machine_description()},
                       {"data", source.description()},
                       {"propensity_source", source.propensity_source()},
                       {"device", backend->name()},
                       {"ranks", comm.size()},
                       {"seconds", seconds},
                       {"peak_rss_mib", peak_rss_mib()},
                       {"stage_seconds", timings_json(timer)}};
    char time_text[32];
    std::snprintf(time_text, sizeof(time_text), "%.0f s", seconds);
    result.provenance = "Command: `" + command_line + "`; revision " + revision + "; data " +
                        source.description() + "; propensities: " + source.propensity_source() +
                        "; wall time " + time_text + ".";
    return result;
}

void write_experiment(const ExperimentResult& result, const StagedDirectory& out,
                      const std::string& prefix) {
    const RunSummary& summary = result.summary;
    out.write(prefix + "config.json", result.used_config.dump(2) + "\n");
    out.write(prefix + "run_info.json", result.run_info.dump(2) + "\n");
    out.write(prefix + "metrics.json", metrics_json(summary, result.outcomes).dump(2) + "\n");
    out.write(prefix + "budget_curve.csv", budget_curve_csv(summary));
    out.write(prefix + "summary.md", summary_markdown(summary, result.title, result.provenance));
    out.write(prefix + "budget_curve.svg", budget_curve_svg(summary, result.title, false));
    if (summary.has_reference)
        out.write(prefix + "budget_curve_normalized.svg",
                  budget_curve_svg(summary, result.title, true));
    if (summary.has_aucc)
        out.write(prefix + "cost_curve.svg", cost_curve_svg(result.outcomes[0], result.title));
    if (!result.outcomes.empty() && !result.outcomes[0].cluster_table_csv.empty())
        out.write(prefix + "cluster_table.csv", result.outcomes[0].cluster_table_csv);
    if (!result.outcomes.empty() && result.outcomes[0].policy)
        out.write(prefix + "policy.json", policy_file_text(*result.outcomes[0].policy));
}

}  // namespace ca
