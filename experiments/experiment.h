// One experiment: a config (data, network, HRC sections, evaluation) run over its seeds, with
// everything needed to print and publish it. Shared by `run` and `compare`.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/atomic_output.h"
#include "core/communicator.h"
#include "core/config.h"
#include "experiments/run_report.h"

namespace ca {

// Command-line settings that replace config values.
struct ExperimentOverrides {
    std::string data_path;  ///< replaces data.path
    int seeds = 0;          ///< replaces evaluation.seeds when > 0
    int epochs = 0;         ///< replaces network.max_epochs when > 0
    std::string device;     ///< replaces the config's device when not empty
    std::vector<std::string> methods;  ///< replaces evaluation.methods when not empty
};

struct ExperimentResult {
    std::string name;
    std::string title;
    std::string data_description;
    std::vector<SplitOutcome> outcomes;
    RunSummary summary;
    nlohmann::json used_config;  ///< the config with every default written out
    nlohmann::json run_info;     ///< revision, machine, timings, peak memory
    std::string provenance;      ///< one line: command, revision, data, time
};

/// Checks the whole config first (so a typo fails before any training), then loads the data
/// and evaluates every method on each seed's split. With several ranks every rank loads the
/// same data and makes the same splits; see evaluate_split for what is sharded.
ExperimentResult run_experiment(const ConfigNode& root, const std::string& config_path,
                                const ExperimentOverrides& overrides,
                                const std::string& command_line,
                                Communicator& comm = local_communicator());

/// Writes config.json, run_info.json, metrics.json, budget_curve.csv, summary.md, the SVG
/// plots and (when HRC was distilled) the first seed's policy.json of one experiment into a
/// staged folder (file names prefixed with prefix).
void write_experiment(const ExperimentResult& result, const StagedDirectory& out,
                      const std::string& prefix = "");

/// Only the keys the run pipeline reads may appear at the top level of an experiment config.
void check_experiment_keys(const ConfigNode& root);

/// Parses every section the run reads (data schema included, without loading data), so that a
/// bad key in any of many configs fails before the first long evaluation.
void validate_experiment(const ConfigNode& root, const ExperimentOverrides& overrides);

}  // namespace ca
