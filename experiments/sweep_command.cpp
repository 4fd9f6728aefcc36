// The sweep command. Its config:
//   {"name": ..., "base": "configs/synthetic.json", "methods": [...], "seeds": 3,
//    "overrides": {...merge patch on the base...},
//    "grid": {"kmeans.k": [8, 32, 128], "data.synthetic.label_noise": [0, 10]}}
// Every grid point x seed is a cell, evaluated with one seed; a cell's headline figures are the
// EOM (and, on synthetic data, the true value) averaged over the budget grid, i.e. the area
// under the budget curve divided by its width.
#include "experiments/sweep_command.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/atomic_output.h"
#include "core/communicator.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/paired_stats.h"
#include "experiments/cli_options.h"
#include "experiments/experiment.h"
#include "experiments/run_metadata.h"
#include "experiments/svg_plot.h"
#include "kernels/backend.h"

namespace ca {

namespace {

namespace fs = std::filesystem;

const std::vector<FlagSpec> kSweepFlags = {
    {"config", true, "JSON config of the sweep (required)"},
    {"out", true, "sweep folder (default results/<sweep name>); finished cells are kept"},
    {"epochs", true, "network training epochs at most (quick checks)"},
    {"device", true, "cpu or cuda for every cell (default: each cell's config, else cpu)"},
    {"rank", true, "this process's rank when cells are spread by hand (default 0)"},
    {"ranks", true, "number of processes sharing the sweep (default 1)"},
    {"aggregate-only", false, "skip evaluation; only rebuild tables and plots"},
    {"quiet", false, "warnings and errors only"},
};

struct GridAxis {
    std::string key;  ///< dotted path into the config, e.g. "kmeans.k"
    std::vector<nlohmann::json> values;
};

struct SweepCell {
    std::vector<nlohmann::json> point;  ///< one value per axis
    uint64_t seed = 0;
    std::string id;
};

std::string resolve(const std::string& path) {
    if (fs::path(path).is_absolute() || fs::exists(path)) return path;
    std::string in_tree = std::string(CA_SOURCE_DIR) + "/" + path;
    return fs::exists(in_tree) ? in_tree : path;
}

void set_dotted(nlohmann::json& config, const std::string& key, const nlohmann::json& value) {
    nlohmann::json* node = &config;
    std::stringstream parts(key);
    std::string part;
    std::vector<std::string> names;
    while (std::getline(parts, part, '.')) names.push_back(part);
    for (size_t i = 0; i + 1 < names.size(); ++i) node = &(*node)[names[i]];
    (*node)[names.back()] = value;
}

std::string value_text(const nlohmann::json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
}

// A file-system-safe, human-readable cell name: "kmeans.k=8__seed=0".
std::string cell_id(const std::vector<GridAxis>& axes, const std::vector<nlohmann::json>& point,
                    uint64_t seed) {
    std::string id;
    for (size_t a = 0; a < axes.size(); ++a) id += axes[a].key + "=" + value_text(point[a]) + "__";
    id += "seed=" + std::to_string(seed);
    for (char& c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '=' || c == '_' ||
              c == '-'))
            c = '_';
    return id;
}

std::vector<GridAxis> read_grid(const ConfigNode& root) {
    ConfigNode grid = root.child("grid");
    if (!grid.is_object() || grid.keys().empty())
        root.fail("grid", "expected an object of \"dotted.key\": [values...]");
    std::vector<GridAxis> axes;
    for (const auto& key : grid.keys()) {
        const nlohmann::json& values = grid.json()[key];
        if (!values.is_array() || values.empty())
            grid.fail(key, "expected a non-empty array of values");
        axes.push_back({key, std::vector<nlohmann::json>(values.begin(), values.end())});
    }
    return axes;
}

std::vector<SweepCell> enumerate_cells(const std::vector<GridAxis>& axes, int seeds) {
    std::vector<SweepCell> cells;
    std::vector<size_t> index(axes.size(), 0);
    while (true) {
        std::vector<nlohmann::json> point;
        for (size_t a = 0; a < axes.size(); ++a) point.push_back(axes[a].values[index[a]]);
        for (int s = 0; s < seeds; ++s)
            cells.push_back({point, uint64_t(s), cell_id(axes, point, uint64_t(s))});
        size_t a = 0;
        while (a < axes.size() && ++index[a] == axes[a].values.size()) index[a++] = 0;
        if (a == axes.size()) break;
    }
    return cells;
}

// Headline figures of one cell: per method, the mean over the budget grid.
nlohmann::json cell_figures(const ExperimentResult& result) {
    nlohmann::json figures = nlohmann::json::object();
    for (const auto& method : result.summary.methods) {
        double eom = 0.0, truth = 0.0;
        for (const auto& level : method.levels) {
            eom += level.eom_mean / method.levels.size();
            truth += level.true_value_mean / method.levels.size();
        }
        figures[method.method] = {{"mean_eom", eom}};
        if (result.summary.has_truth) figures[method.method]["mean_true_value"] = truth;
    }
    return figures;
}

struct AggregateRow {
    std::vector<nlohmann::json> point;
    std::string method;
    std::vector<double> eom, truth;
};

std::vector<AggregateRow> aggregate(const std::vector<GridAxis>& axes,
                                    const std::vector<SweepCell>& cells, const fs::path& cell_dir) {
    std::map<std::string, AggregateRow> rows;
    std::vector<std::string> order;
    for (const auto& cell : cells) {
        fs::path file = cell_dir / (cell.id + ".json");
        if (!fs::exists(file)) continue;
        std::ifstream in(file);
        nlohmann::json figures = nlohmann::json::parse(in)["figures"];
        for (auto it = figures.begin(); it != figures.end(); ++it) {
            std::string key = nlohmann::json(cell.point).dump() + "|" + it.key();
            if (!rows.count(key)) {
                rows[key] = {cell.point, it.key(), {}, {}};
                order.push_back(key);
            }
            rows[key].eom.push_back(it.value()["mean_eom"]);
            if (it.value().contains("mean_true_value"))
                rows[key].truth.push_back(it.value()["mean_true_value"]);
        }
    }
    std::vector<AggregateRow> out;
    for (const auto& key : order) out.push_back(rows[key]);
    return out;
}

std::string fixed(double value, int decimals = 4) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
    return buffer;
}

std::string table_csv(const std::vector<GridAxis>& axes, const std::vector<AggregateRow>& rows) {
    std::ostringstream out;
    for (const auto& axis : axes) out << axis.key << ',';
    out << "method,seeds,mean_eom,std_eom,mean_true_value,std_true_value\n";
    for (const auto& row : rows) {
        for (const auto& value : row.point) out << value_text(value) << ',';
        SummaryStats eom = summarize(row.eom), truth = summarize(row.truth);
        out << row.method << ',' << row.eom.size() << ',' << eom.mean << ',' << eom.std << ',';
        if (!row.truth.empty()) out << truth.mean << ',' << truth.std;
        else out << ',';
        out << '\n';
    }
    return out.str();
}

std::string table_markdown(const std::string& title, const std::string& provenance,
                           const std::vector<GridAxis>& axes,
                           const std::vector<AggregateRow>& rows) {
    bool truth = !rows.empty() && !rows[0].truth.empty();
    std::ostringstream out;
    out << "# " << title << "\n\n" << provenance
        << "\n\nEach figure is averaged over the budget grid (area under the budget curve / "
           "its width), then mean ± std over seeds.\n\n|";
    for (const auto& axis : axes) out << ' ' << axis.key << " |";
    out << " method | seeds | EOM |" << (truth ? " true value |" : "") << "\n|";
    for (size_t i = 0; i < axes.size() + 3 + (truth ? 1 : 0); ++i) out << "---|";
    out << "\n";
    for (const auto& row : rows) {
        out << '|';
        for (const auto& value : row.point) out << ' ' << value_text(value) << " |";
        SummaryStats eom = summarize(row.eom);
        out << ' ' << row.method << " | " << row.eom.size() << " | " << fixed(eom.mean) << " ± "
            << fixed(eom.std) << " |";
        if (truth) {
            SummaryStats value = summarize(row.truth);
            out << ' ' << fixed(value.mean) << " ± " << fixed(value.std) << " |";
        }
        out << "\n";
    }
    return out.str();
}

// One plot per axis: the figure against that axis, a series per method and per combination
// of the other axes' values.
std::string axis_plot(const std::string& title, const std::vector<GridAxis>& axes, size_t axis,
                      const std::vector<AggregateRow>& rows, bool use_truth) {
    LinePlot plot;
    plot.title = title;
    plot.x_label = axes[axis].key;
    plot.y_label = use_truth ? "true value per capita (mean over budgets)"
                             : "EOM per capita (mean over budgets)";
    std::map<std::string, size_t> series_index;
    for (const auto& row : rows) {
        if (!row.point[axis].is_number()) return "";
        std::string label = row.method;
        for (size_t a = 0; a < axes.size(); ++a)
            if (a != axis) label += " " + axes[a].key.substr(axes[a].key.rfind('.') + 1) + "=" +
                                    value_text(row.point[a]);
        if (!series_index.count(label)) {
            series_index[label] = plot.series.size();
            plot.series.push_back({label, {}, {}, {}, row.method != "HRC"});
        }
        PlotSeries& series = plot.series[series_index[label]];
        SummaryStats stats = summarize(use_truth ? row.truth : row.eom);
        series.x.push_back(row.point[axis].get<double>());
        series.y.push_back(stats.mean);
        series.y_error.push_back(stats.std);
    }
    return render_svg(plot);
}

}  // namespace

int sweep_command(int argc, char** argv) {
    CliOptions options = CliOptions::parse(argc, argv, 2, kSweepFlags);
    if (options.has("quiet")) set_log_level(LogLevel::kWarning);
    std::string config_path = options.required("config");
    ConfigNode root = ConfigNode::from_file(config_path);
    root.allow_only({"name", "description", "base", "methods", "seeds", "overrides", "grid"});
    std::string name = root.string("name", fs::path(config_path).stem().string());
    std::string base_path = resolve(root.required_string("base"));
    nlohmann::json base = ConfigNode::from_file(base_path).json();
    if (root.has("overrides")) base.merge_patch(root.json()["overrides"]);
    std::vector<GridAxis> axes = read_grid(root);
    int seeds = int(root.integer_in("seeds", 3, 1, 1000));
    // Under mpirun or srun the cells are spread over the launched processes; each cell is
    // evaluated by one process alone, so the ranks only meet at the end, before aggregation.
    std::unique_ptr<Communicator> comm =
        launcher_ranks() > 1 ? make_communicator("mpi", "command line (mpirun)")
                             : std::make_unique<LocalCommunicator>();
    set_log_rank(comm->rank());
    int rank = int(options.get_int("rank", comm->rank(), 0, 100000));
    int ranks = int(options.get_int("ranks", comm->size(), 1, 100000));
    if (rank >= ranks) CA_THROW(ConfigError, "command line: --rank must be below --ranks");

    ExperimentOverrides overrides;
    overrides.methods = root.strings("methods", {});
    overrides.epochs = int(options.get_int("epochs", 0, 1, 100000));
    overrides.device = options.get("device");
    // A device that is missing fails now, not after the first cells.
    if (!overrides.device.empty()) make_backend(overrides.device);
    std::vector<SweepCell> cells = enumerate_cells(axes, seeds);

    // Check every cell's config before the first long evaluation.
    std::vector<nlohmann::json> cell_configs;
    for (const auto& cell : cells) {
        nlohmann::json config = base;
        for (size_t a = 0; a < axes.size(); ++a) set_dotted(config, axes[a].key, cell.point[a]);
        config["evaluation"]["seeds"] = 1;
        config["evaluation"]["first_seed"] = cell.seed;
        config["name"] = name;
        validate_experiment(ConfigNode::from_json(config, config_path + " [" + cell.id + "]"),
                            overrides);
        cell_configs.push_back(config);
    }

    fs::path out = options.get("out", "results/" + name);
    fs::path cell_dir = out / "cells";
    fs::create_directories(cell_dir);
    int done = 0, skipped = 0;
    for (size_t i = 0; i < cells.size() && !options.has("aggregate-only"); ++i) {
        if (int(i % size_t(ranks)) != rank) continue;
        fs::path file = cell_dir / (cells[i].id + ".json");
        if (fs::exists(file)) {
            ++skipped;
            continue;
        }
        log_info("sweep " + name + ": cell " + std::to_string(i + 1) + "/" +
                 std::to_string(cells.size()) + " " + cells[i].id);
        ConfigNode node = ConfigNode::from_json(cell_configs[i], config_path + " [" +
                                                                     cells[i].id + "]");
        ExperimentResult result = run_experiment(node, config_path, overrides, "sweep cell");
        nlohmann::json record = {{"cell", cells[i].id},
                                 {"point", cells[i].point},
                                 {"seed", cells[i].seed},
                                 {"figures", cell_figures(result)},
                                 {"seconds", result.run_info["seconds"]},
                                 {"revision", result.run_info["revision"]}};
        write_file_atomically(file.string(), record.dump(2) + "\n");
        ++done;
    }
    comm->barrier();
    if (comm->size() > 1) {
        int64_t totals[2] = {done, skipped};
        comm->allreduce_sum(totals, 2);
        done = int(totals[0]);
        skipped = int(totals[1]);
    }
    log_info("sweep " + name + ": " + std::to_string(done) + " cells evaluated, " +
             std::to_string(skipped) + " already done");
    if (comm->rank() != 0) return 0;

    std::vector<AggregateRow> rows = aggregate(axes, cells, cell_dir);
    std::string title = name + (root.has("description") ? ": " + root.string("description", "")
                                                        : "");
    std::string provenance = "Command: `clusteralloc sweep --config " + config_path +
                             "`; revision " + git_revision() + "; base config " + base_path + ".";
    write_file_atomically((out / "sweep.csv").string(), table_csv(axes, rows));
    write_file_atomically((out / "summary.md").string(),
                          table_markdown(title, provenance, axes, rows));
    bool has_truth = !rows.empty() && !rows[0].truth.empty();
    for (size_t a = 0; a < axes.size(); ++a) {
        std::string short_name = axes[a].key.substr(axes[a].key.rfind('.') + 1);
        std::string svg = axis_plot(title, axes, a, rows, false);
        if (!svg.empty())
            write_file_atomically((out / ("eom_vs_" + short_name + ".svg")).string(), svg);
        if (has_truth) {
            svg = axis_plot(title, axes, a, rows, true);
            if (!svg.empty())
                write_file_atomically((out / ("true_value_vs_" + short_name + ".svg")).string(),
                                      svg);
        }
    }
    std::printf("%s", table_markdown(title, provenance, axes, rows).c_str());
    log_info("wrote " + out.string());
    return 0;
}

}  // namespace ca
