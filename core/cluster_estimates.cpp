// Cluster estimates: cell counts, means and standard errors in two passes over the RCT rows
// (means first, then squared deviations, so no cancellation), then the fallback for empty
// cells, the optional empirical-Bayes shrinkage and the optional lower confidence bound.
#include "core/cluster_estimates.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "core/errors.h"
#include "core/log.h"

namespace ca {

ClusterTable ClusterTable::zeros(int k, int m) {
    ClusterTable table;
    table.k = k;
    table.m = m;
    size_t cells = size_t(k) * size_t(m);
    table.population.assign(size_t(k), 0.0);
    table.count.assign(cells, 0);
    table.value.assign(cells, 0.0);
    table.cost.assign(cells, 0.0);
    table.value_se.assign(cells, 0.0);
    table.cost_se.assign(cells, 0.0);
    table.filled.assign(cells, false);
    return table;
}

EstimateParams EstimateParams::from_config(const ConfigNode& node) {
    node.allow_only({"shrinkage", "prior_rows", "lcb_z"});
    EstimateParams params;
    params.shrinkage = node.choice("shrinkage", params.shrinkage, {"none", "empirical_bayes"});
    params.prior_rows = node.number_in("prior_rows", params.prior_rows, 0.0, 1e12);
    params.lcb_z = node.number_in("lcb_z", params.lcb_z, 0.0, 100.0);
    return params;
}

nlohmann::json EstimateParams::to_json() const {
    return {{"shrinkage", shrinkage}, {"prior_rows", prior_rows}, {"lcb_z", lcb_z}};
}

namespace {

// Running totals of one group of rows (a cell, or an arm over all clusters).
struct Moments {
    int64_t rows = 0;
    double value_sum = 0.0, cost_sum = 0.0;
    double value_squares = 0.0, cost_squares = 0.0;  ///< squared deviations from the mean

    double value_mean() const { return rows > 0 ? value_sum / double(rows) : 0.0; }
    double cost_mean() const { return rows > 0 ? cost_sum / double(rows) : 0.0; }
    double value_sd() const { return rows > 1 ? std::sqrt(value_squares / double(rows - 1)) : 0.0; }
    double cost_sd() const { return rows > 1 ? std::sqrt(cost_squares / double(rows - 1)) : 0.0; }
};

std::string row_location(const Dataset& rct, int64_t row) {
    if (!rct.source_line.empty())
        return at_location(rct.source, rct.source_line[size_t(row)], 0, "");
    return rct.source + ": row " + std::to_string(row) + " (0-based): ";
}

void check_inputs(const Dataset& rct, const int32_t* labels, int k,
                  const std::vector<double>& population) {
    if (k < 1) CA_THROW(InputError, "estimates: need at least one cluster, got K = " << k);
    if (rct.m < 1) CA_THROW(InputError, "estimates: " << rct.source << " has no arms (M = 0)");
    CA_ASSERT(rct.arm.size() == size_t(rct.n) && rct.value.size() == size_t(rct.n) &&
              rct.cost.size() == size_t(rct.n));
    CA_ASSERT(labels != nullptr || rct.n == 0);
    if (population.size() != size_t(k))
        CA_THROW(InputError, "estimates: population has " << population.size()
                                                          << " cluster sizes, expected K = " << k);
    for (int c = 0; c < k; ++c) {
        double size = population[size_t(c)];
        if (!std::isfinite(size) || size < 0.0)
            CA_THROW(InputError, "estimates: population of cluster " << c << " is " << size
                                                                     << "; expected a count >= 0");
    }
    for (int64_t i = 0; i < rct.n; ++i) {
        size_t r = size_t(i);
        if (labels[r] < 0 || labels[r] >= k)
            CA_THROW(InputError, row_location(rct, i) << "cluster label " << labels[r]
                                                      << " is outside [0, " << k << ")");
        CA_ASSERT_MSG(rct.arm[r] >= 0 && rct.arm[r] < rct.m,
                      "arm " << rct.arm[r] << " of row " << i);
        if (!std::isfinite(rct.value[r]) || !std::isfinite(rct.cost[r]))
            CA_THROW(InputError, row_location(rct, i) << "value " << rct.value[r] << " and cost "
                                                      << rct.cost[r] << " must both be finite");
    }
}

// Adds the groups' row counts and sums (first pass) or squared deviations (second pass) over
// the ranks, cells and arms in one buffer each.
void sum_over_ranks(std::vector<Moments>& cells, std::vector<Moments>& arms, bool squares,
                    Communicator& comm) {
    if (comm.size() == 1) return;
    std::vector<double> sums;
    std::vector<int64_t> rows;
    for (auto* groups : {&cells, &arms}) {
        for (const Moments& group : *groups) {
            sums.push_back(squares ? group.value_squares : group.value_sum);
            sums.push_back(squares ? group.cost_squares : group.cost_sum);
            rows.push_back(group.rows);
        }
    }
    allreduce_sum(comm, sums);
    if (!squares) allreduce_sum(comm, rows);
    size_t at = 0;
    for (auto* groups : {&cells, &arms}) {
        for (Moments& group : *groups) {
            (squares ? group.value_squares : group.value_sum) = sums[2 * at];
            (squares ? group.cost_squares : group.cost_sum) = sums[2 * at + 1];
            if (!squares) group.rows = rows[at];
            ++at;
        }
    }
}

// Two passes over this rank's rows: sums give the means, then squared deviations from those
// means; each pass is summed over the ranks before the next.
void accumulate_moments(const Dataset& rct, const int32_t* labels, int m,
                        std::vector<Moments>& cells, std::vector<Moments>& arms,
                        Communicator& comm) {
    const RowRange own = comm.shard(rct.n);
    for (int64_t i = own.begin; i < own.end; ++i) {
        size_t r = size_t(i);
        for (Moments* group : {&cells[size_t(labels[r]) * m + rct.arm[r]], &arms[rct.arm[r]]}) {
            group->rows += 1;
            group->value_sum += rct.value[r];
            group->cost_sum += rct.cost[r];
        }
    }
    sum_over_ranks(cells, arms, false, comm);
    for (int64_t i = own.begin; i < own.end; ++i) {
        size_t r = size_t(i);
        for (Moments* group : {&cells[size_t(labels[r]) * m + rct.arm[r]], &arms[rct.arm[r]]}) {
            double dv = rct.value[r] - group->value_mean();
            double dc = rct.cost[r] - group->cost_mean();
            group->value_squares += dv * dv;
            group->cost_squares += dc * dc;
        }
    }
    sum_over_ranks(cells, arms, true, comm);
}

void check_every_arm_present(const Dataset& rct, const std::vector<Moments>& arms) {
    for (size_t j = 0; j < arms.size(); ++j) {
        if (arms[j].rows > 0) continue;
        std::string label = j < rct.arm_names.size() ? " (\"" + rct.arm_names[j] + "\")" : "";
        CA_THROW(InputError, "estimates: arm " << j << label << " has no rows in " << rct.source
                                               << "; every arm needs RCT rows to be estimated");
    }
}

// One cell of the table from its own rows and its arm's rows.
void fill_cell(const Moments& cell, const Moments& arm, const EstimateParams& params,
               ClusterTable& table, size_t at) {
    bool shrink = params.shrinkage == "empirical_bayes";
    double rows = double(cell.rows);
    double value_sd = cell.rows > 1 ? cell.value_sd() : arm.value_sd();
    double cost_sd = cell.rows > 1 ? cell.cost_sd() : arm.cost_sd();

    table.count[at] = cell.rows;
    table.filled[at] = cell.rows == 0;
    if (shrink && rows + params.prior_rows > 0.0) {
        double weight = params.prior_rows;
        table.value[at] = (cell.value_sum + weight * arm.value_mean()) / (rows + weight);
        table.cost[at] = (cell.cost_sum + weight * arm.cost_mean()) / (rows + weight);
        rows += weight;
    } else if (cell.rows > 0) {
        table.value[at] = cell.value_mean();
        table.cost[at] = cell.cost_mean();
    } else {
        table.value[at] = arm.value_mean();
        table.cost[at] = arm.cost_mean();
        rows = 1.0;  // an empty cell is as uncertain as one row of its arm
    }
    table.value_se[at] = value_sd / std::sqrt(rows);
    table.cost_se[at] = cost_sd / std::sqrt(rows);
    if (params.lcb_z > 0.0) table.value[at] -= params.lcb_z * table.value_se[at];
}

void warn_thin_cells(const ClusterTable& table) {
    int64_t thin = 0, empty = 0;
    for (int64_t rows : table.count) {
        thin += rows < kThinCellRows;
        empty += rows == 0;
    }
    if (thin == 0) return;
    log_warning("estimates: " + std::to_string(thin) + " of " + std::to_string(table.count.size()) +
                " cells have fewer than " + std::to_string(kThinCellRows) + " RCT rows (" +
                std::to_string(empty) + " empty, filled with the arm's global mean)");
}

}  // namespace

ClusterTable estimate_clusters(const Dataset& rct, const int32_t* labels, int k,
                               const std::vector<double>& population, const EstimateParams& params,
                               Communicator& comm) {
    // Every rank checks all rows, so a bad row stops every rank with the same message.
    check_inputs(rct, labels, k, population);
    int m = rct.m;
    std::vector<Moments> cells(size_t(k) * m);
    std::vector<Moments> arms(static_cast<size_t>(m));
    accumulate_moments(rct, labels, m, cells, arms, comm);
    check_every_arm_present(rct, arms);

    ClusterTable table = ClusterTable::zeros(k, m);
    table.population = population;
    for (int c = 0; c < k; ++c)
        for (int j = 0; j < m; ++j)
            fill_cell(cells[table.index(c, j)], arms[size_t(j)], params, table, table.index(c, j));
    warn_thin_cells(table);
    log_info("estimates: " + std::to_string(k) + " clusters x " + std::to_string(m) +
             " arms from " + std::to_string(rct.n) + " RCT rows, shrinkage " + params.shrinkage);
    return table;
}

std::string cluster_table_csv(const ClusterTable& table) {
    std::ostringstream out;
    out << std::setprecision(10);
    out << "cluster,arm,population,n,value,cost,value_se,cost_se,filled\n";
    for (int c = 0; c < table.k; ++c) {
        for (int j = 0; j < table.m; ++j) {
            size_t at = table.index(c, j);
            out << c << ',' << j << ',' << table.population[size_t(c)] << ',' << table.count[at]
                << ',' << table.value[at] << ',' << table.cost[at] << ',' << table.value_se[at]
                << ',' << table.cost_se[at] << ',' << (table.filled[at] ? 1 : 0) << '\n';
        }
    }
    return out.str();
}

}  // namespace ca
