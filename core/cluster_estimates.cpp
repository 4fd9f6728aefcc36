// Cluster estimates: cell counts, means and standard errors in two passes over the RCT rows
// (means first, then squared deviations, so no cancellation), then the fallback for empty
// cells, the optional empirical-Bayes shrinkage and the optional lower confidence bound.
#include "core/cluster_estimates.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "core/errors.h"
#include "core/log.h"
#include "core/ordered_sum.h"

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

// One pass over the rows of one part: counts and sums (first pass), or squared deviations from
// the means already in `groups` (second pass). Returns the part's two numbers per group.
std::vector<double> part_moments(const Dataset& rct, const int32_t* labels, int m, RowRange rows,
                                 const std::vector<Moments>& groups, bool squares,
                                 std::vector<int64_t>& row_counts) {
    const size_t cells = groups.size() - size_t(m);  // groups: K x M cells, then the M arms
    std::vector<double> sums(2 * groups.size(), 0.0);
    for (int64_t i = rows.begin; i < rows.end; ++i) {
        const size_t r = size_t(i);
        for (size_t g : {size_t(labels[r]) * m + rct.arm[r], cells + size_t(rct.arm[r])}) {
            if (squares) {
                double dv = rct.value[r] - groups[g].value_mean();
                double dc = rct.cost[r] - groups[g].cost_mean();
                sums[2 * g] += dv * dv;
                sums[2 * g + 1] += dc * dc;
            } else {
                row_counts[g] += 1;
                sums[2 * g] += rct.value[r];
                sums[2 * g + 1] += rct.cost[r];
            }
        }
    }
    return sums;
}

// Two passes over this rank's rows: sums give the means, then squared deviations from those
// means. Each pass is summed part by part in the fixed order of core/ordered_sum.h, so any
// number of ranks gives the one-process table to the bit.
void accumulate_moments(const Dataset& rct, const int32_t* labels, int m,
                        std::vector<Moments>& groups, Communicator& comm) {
    const SumPlan plan(rct.n, comm);
    for (bool squares : {false, true}) {
        OrderedSum<double> ordered(plan, 2 * int64_t(groups.size()));
        std::vector<int64_t> row_counts(groups.size(), 0);
        for (int p = plan.first_part(); p < plan.end_part(); ++p)
            ordered.add_part(part_moments(rct, labels, m, plan.part_rows(p), groups, squares,
                                          row_counts));
        std::vector<double> sums = ordered.total(comm);
        if (!squares) allreduce_sum(comm, row_counts);
        for (size_t g = 0; g < groups.size(); ++g) {
            if (squares) {
                groups[g].value_squares = sums[2 * g];
                groups[g].cost_squares = sums[2 * g + 1];
            } else {
                groups[g].rows = row_counts[g];
                groups[g].value_sum = sums[2 * g];
                groups[g].cost_sum = sums[2 * g + 1];
            }
        }
    }
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
    std::vector<Moments> groups(size_t(k) * m + size_t(m));
    accumulate_moments(rct, labels, m, groups, comm);
    const std::vector<Moments> cells(groups.begin(), groups.begin() + size_t(k) * m);
    const std::vector<Moments> arms(groups.begin() + size_t(k) * m, groups.end());
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
