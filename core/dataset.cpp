// Dataset helpers: row subsets and arm shares.
#include "core/dataset.h"

#include "core/errors.h"

namespace ca {

namespace {
template <typename T>
std::vector<T> gather(const std::vector<T>& column, const std::vector<int64_t>& rows,
                      int64_t width) {
    if (column.empty()) return {};
    std::vector<T> out(rows.size() * width);
    for (size_t r = 0; r < rows.size(); ++r)
        for (int64_t j = 0; j < width; ++j) out[r * width + j] = column[rows[r] * width + j];
    return out;
}
}  // namespace

Dataset Dataset::subset(const std::vector<int64_t>& rows) const {
    for (int64_t r : rows) CA_ASSERT_MSG(r >= 0 && r < n, "row " << r << " of " << n);
    Dataset out;
    out.source = source;
    out.n = static_cast<int64_t>(rows.size());
    out.d = d;
    out.m = m;
    out.feature_names = feature_names;
    out.arm_names = arm_names;
    out.aux_names = aux_names;
    out.value_is_binary = value_is_binary;
    out.cost_is_binary = cost_is_binary;
    out.x = gather(x, rows, d);
    out.arm = gather(arm, rows, 1);
    out.value = gather(value, rows, 1);
    out.cost = gather(cost, rows, 1);
    for (const auto& column : aux) out.aux.push_back(gather(column, rows, 1));
    out.propensity = gather(propensity, rows, 1);
    out.true_value = gather(true_value, rows, m);
    out.true_cost = gather(true_cost, rows, m);
    out.user_id = gather(user_id, rows, 1);
    out.source_line = gather(source_line, rows, 1);
    return out;
}

std::vector<int64_t> Dataset::arm_counts() const {
    std::vector<int64_t> counts(m, 0);
    for (int32_t a : arm) counts[a] += 1;
    return counts;
}

std::vector<double> Dataset::arm_shares() const {
    std::vector<int64_t> counts = arm_counts();
    std::vector<double> shares(m, 0.0);
    for (int j = 0; j < m; ++j) shares[j] = n > 0 ? double(counts[j]) / double(n) : 0.0;
    return shares;
}

}  // namespace ca
