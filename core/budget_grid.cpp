// Budget grid construction and the checks of the "budgets" config value.
#include "core/budget_grid.h"

#include <algorithm>
#include <sstream>

#include "core/errors.h"

namespace ca {

namespace {

void check_fraction(double fraction, const ConfigNode& node, const std::string& key) {
    std::ostringstream message;
    if (fraction < 0.0) {
        message << "fraction " << fraction << " is negative; budgets are fractions of the "
                << "costliest policy's cost and must lie in [0, 1]";
        node.fail(key, message.str());
    }
    if (fraction > 1.0) {
        message << "fraction " << fraction << " is above 1; 1 is the cost of the costliest "
                << "policy (every cluster on its most expensive arm), a larger budget buys "
                << "nothing more";
        node.fail(key, message.str());
    }
}

// A bare array of fractions: each element is checked under its own index.
std::vector<double> fractions_from_array(const ConfigNode& node) {
    std::vector<double> fractions;
    for (size_t i = 0; i < node.size(); ++i) {
        ConfigNode element = node.element(i);
        if (!element.json().is_number())
            element.fail("", "expected a number, got " + element.json().dump());
        fractions.push_back(element.json().get<double>());
        check_fraction(fractions.back(), element, "");
    }
    return fractions;
}

}  // namespace

BudgetGridParams BudgetGridParams::from_config(const ConfigNode& node) {
    BudgetGridParams params;
    if (node.is_array()) {
        params.fractions = fractions_from_array(node);
    } else {
        node.allow_only({"levels", "fractions"});
        if (node.has("levels") && node.has("fractions"))
            node.fail("fractions", "give either levels or fractions, not both");
        params.levels = int(node.integer_in("levels", params.levels, 2, 1000000));
        params.fractions = node.numbers("fractions", {});
        for (size_t i = 0; i < params.fractions.size(); ++i)
            check_fraction(params.fractions[i], node, "fractions[" + std::to_string(i) + "]");
        if (node.has("fractions") && params.fractions.empty())
            node.fail("fractions", "the list is empty; give at least one fraction in [0, 1]");
    }
    if (node.is_array() && params.fractions.empty())
        node.fail("", "the list is empty; give at least one fraction in [0, 1]");
    return params;
}

nlohmann::json BudgetGridParams::to_json() const {
    if (!fractions.empty()) return {{"fractions", fractions}};
    return {{"levels", levels}};
}

double costliest_policy_cost(const ClusterTable& table) {
    double total = 0.0;
    for (int c = 0; c < table.k; ++c) {
        double highest = 0.0;
        for (int j = 0; j < table.m; ++j)
            highest = std::max(highest, table.cost[table.index(c, j)]);
        total += table.population[size_t(c)] * highest;
    }
    return total;
}

double cheapest_policy_cost(const ClusterTable& table) {
    double total = 0.0;
    for (int c = 0; c < table.k; ++c) {
        double lowest = table.m > 0 ? table.cost[table.index(c, 0)] : 0.0;
        for (int j = 1; j < table.m; ++j) lowest = std::min(lowest, table.cost[table.index(c, j)]);
        total += table.population[size_t(c)] * lowest;
    }
    return total;
}

BudgetGrid make_budget_grid(const BudgetGridParams& params, double max_cost) {
    BudgetGrid grid;
    grid.max_cost = max_cost;
    grid.fractions = params.fractions;
    if (grid.fractions.empty()) {
        if (params.levels < 2)
            CA_THROW(ConfigError, "budgets.levels must be >= 2, got " << params.levels);
        for (int level = 0; level < params.levels; ++level)
            grid.fractions.push_back(double(level) / double(params.levels - 1));
    }
    for (double fraction : grid.fractions) {
        if (fraction < 0.0 || fraction > 1.0)
            CA_THROW(ConfigError, "budgets: fraction " << fraction << " is outside [0, 1]");
        // The top level is max_cost itself, not a product that rounds below it.
        grid.budgets.push_back(fraction == 1.0 ? max_cost : fraction * max_cost);
    }
    return grid;
}

BudgetGrid make_budget_grid(const BudgetGridParams& params, const ClusterTable& table) {
    return make_budget_grid(params, costliest_policy_cost(table));
}

}  // namespace ca
