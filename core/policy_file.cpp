// Policy file: the payload, its checksum and line layout, atomic writing, and the checked read
// that refuses anything it could not serve exactly as written.
#include "core/policy_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "core/atomic_output.h"
#include "core/budget_grid.h"
#include "core/errors.h"

namespace ca {

bool PolicyBudget::operator==(const PolicyBudget& other) const {
    bool same_split = split.has_value() == other.split.has_value();
    if (same_split && split) {
        same_split =
            split->cluster == other.split->cluster && split->arm_low == other.split->arm_low &&
            split->arm_high == other.split->arm_high && split->fraction == other.split->fraction;
    }
    return same_split && fraction == other.fraction && budget == other.budget &&
           budget_per_capita == other.budget_per_capita && arms == other.arms &&
           lp_arms == other.lp_arms;
}

std::vector<std::string> ServingPolicy::input_columns() const {
    std::vector<std::string> names;
    for (const EncodedColumn& column : encoder.columns()) names.push_back(column.name);
    return names;
}

double ServingPolicy::total_population() const {
    double total = 0.0;
    for (double n : population) total += n;
    return total;
}

std::vector<PolicyBudget> solve_policy_budgets(const ClusterTable& table,
                                               const ClusterSolverParams& solver) {
    BudgetGrid grid = make_budget_grid(solver.budgets, table);
    std::vector<ClusterAllocation> solved = solve_budget_grid(table, grid.budgets, solver);
    double total = 0.0;
    for (double n : table.population) total += n;
    std::vector<PolicyBudget> budgets;
    for (size_t level = 0; level < solved.size(); ++level) {
        PolicyBudget entry;
        entry.fraction = grid.fractions[level];
        entry.budget = grid.budgets[level];
        entry.budget_per_capita = total > 0 ? entry.budget / total : 0.0;
        entry.arms = solved[level].arms;
        entry.lp_arms = solved[level].lp_arms;
        entry.split = solved[level].split;
        budgets.push_back(entry);
    }
    // Explicit fractions may come in any order; serving looks budgets up by size.
    std::stable_sort(
        budgets.begin(), budgets.end(),
        [](const PolicyBudget& a, const PolicyBudget& b) { return a.budget < b.budget; });
    return budgets;
}

namespace {

nlohmann::json arm_list(const std::vector<int>& arms, const std::vector<std::string>& names) {
    nlohmann::json list = nlohmann::json::array();
    for (int arm : arms) list.push_back(names.at(arm));
    return list;
}

nlohmann::json budget_json(const PolicyBudget& entry, const std::vector<std::string>& names) {
    nlohmann::json split = nullptr;
    if (entry.split) {
        split = {{"cluster", entry.split->cluster},
                 {"arm_low", names.at(entry.split->arm_low)},
                 {"arm_high", names.at(entry.split->arm_high)},
                 {"fraction", entry.split->fraction}};
    }
    return {{"fraction", entry.fraction},
            {"budget", entry.budget},
            {"budget_per_capita", entry.budget_per_capita},
            {"arms", arm_list(entry.arms, names)},
            {"lp_arms", arm_list(entry.lp_arms, names)},
            {"split", split}};
}

// Invalid UTF-8 in a name becomes U+FFFD both in the file and in the checksummed dump.
std::string compact(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Top-level members in reading order: the small header first, the weights last.
const char* const kMemberOrder[] = {
    "format",        "format_version", "revision", "k",       "arms",      "deploy",  "id_column",
    "input_columns", "population",     "config",   "encoder", "estimates", "budgets", "student"};

std::string member_text(const std::string& key, const nlohmann::json& value) {
    std::string text = "  " + compact(nlohmann::json(key)) + ": ";
    if (key != "budgets" || !value.is_array() || value.empty()) return text + compact(value);
    // One budget level per line, so a reader can scan the table.
    text += "[\n";
    for (size_t i = 0; i < value.size(); ++i)
        text += "    " + compact(value[i]) + (i + 1 < value.size() ? ",\n" : "\n");
    return text + "  ]";
}

}  // namespace

nlohmann::json policy_payload(const ServingPolicy& policy) {
    nlohmann::json budgets = nlohmann::json::array();
    for (const PolicyBudget& entry : policy.budgets)
        budgets.push_back(budget_json(entry, policy.arm_names));
    return {{"format", kPolicyFormatName},
            {"format_version", kPolicyFormatVersion},
            {"revision", policy.revision},
            {"config", policy.config},
            {"encoder", policy.encoder.to_json()},
            {"input_columns", policy.input_columns()},
            {"id_column", policy.id_column},
            {"arms", policy.arm_names},
            {"k", policy.k},
            {"deploy", policy.deploy},
            {"population", policy.population},
            {"estimates", {{"value", policy.value}, {"cost", policy.cost}}},
            {"student", policy.student.to_json()},
            {"budgets", budgets}};
}

std::string policy_checksum(const nlohmann::json& payload) {
    // FNV-1a, 64 bit: offset basis and prime of the published definition.
    uint64_t hash = 14695981039346656037ull;
    for (unsigned char byte : compact(payload)) {
        hash ^= byte;
        hash *= 1099511628211ull;
    }
    char text[32];
    std::snprintf(text, sizeof(text), "fnv1a64:%016llx", (unsigned long long)hash);
    return text;
}

std::string sealed_policy_text(const nlohmann::json& payload) {
    std::vector<std::string> keys;
    for (const char* key : kMemberOrder)
        if (payload.contains(key)) keys.push_back(key);
    for (const auto& item : payload.items())
        if (std::find(keys.begin(), keys.end(), item.key()) == keys.end() &&
            item.key() != "checksum")
            keys.push_back(item.key());
    nlohmann::json unsealed = payload;
    unsealed.erase("checksum");

    std::string text = "{\n";
    for (const std::string& key : keys) text += member_text(key, payload.at(key)) + ",\n";
    text += member_text("checksum", policy_checksum(unsealed)) + "\n}\n";
    return text;
}

std::string policy_file_text(const ServingPolicy& policy) {
    return sealed_policy_text(policy_payload(policy));
}

void write_policy_file(const std::string& path, const ServingPolicy& policy) {
    write_file_atomically(path, policy_file_text(policy));
}

namespace {

// Checked reads of the payload's members; every message starts with "origin: member path".
class PayloadReader {
  public:
    PayloadReader(const nlohmann::json& payload, std::string origin)
        : payload_(payload), origin_(std::move(origin)) {}

    [[noreturn]] void fail(const std::string& where, const std::string& message) const {
        throw InputError(origin_ + ": " + where + ": " + message);
    }

    const nlohmann::json& member(const nlohmann::json& object, const std::string& key,
                                 const std::string& where) const {
        auto it = object.find(key);
        if (it == object.end()) fail(where + key, "required member is missing");
        return *it;
    }

    std::string text(const nlohmann::json& object, const std::string& key,
                     const std::string& where = "") const {
        const nlohmann::json& value = member(object, key, where);
        if (!value.is_string()) fail(where + key, "expected a string, got " + compact(value));
        return value.get<std::string>();
    }

    long integer(const nlohmann::json& object, const std::string& key, long low, long high,
                 const std::string& where = "") const {
        const nlohmann::json& value = member(object, key, where);
        if (!value.is_number_integer() || value.get<long>() < low || value.get<long>() > high)
            fail(where + key, "expected an integer in [" + std::to_string(low) + ", " +
                                  std::to_string(high) + "], got " + compact(value));
        return value.get<long>();
    }

    double number(const nlohmann::json& value, double low, double high,
                  const std::string& where) const {
        if (!value.is_number() || !std::isfinite(value.get<double>()) ||
            value.get<double>() < low || value.get<double>() > high) {
            std::ostringstream range;
            range << "expected a finite number in [" << low << ", " << high << "], got "
                  << compact(value);
            fail(where, range.str());
        }
        return value.get<double>();
    }

    std::vector<double> numbers(const nlohmann::json& value, size_t count, double low,
                                const std::string& where, const std::string& shape) const {
        if (!value.is_array()) fail(where, "expected an array, got " + compact(value));
        if (value.size() != count)
            fail(where, std::to_string(value.size()) + " entries, expected " + shape + " = " +
                            std::to_string(count));
        std::vector<double> out;
        for (size_t i = 0; i < value.size(); ++i)
            out.push_back(number(value[i], low, HUGE_VAL, where + "[" + std::to_string(i) + "]"));
        return out;
    }

    std::vector<std::string> strings(const nlohmann::json& value, const std::string& where) const {
        if (!value.is_array()) fail(where, "expected an array of strings, got " + compact(value));
        std::vector<std::string> out;
        for (size_t i = 0; i < value.size(); ++i) {
            if (!value[i].is_string())
                fail(where + "[" + std::to_string(i) + "]",
                     "expected a string, got " + compact(value[i]));
            out.push_back(value[i].get<std::string>());
        }
        return out;
    }

    const nlohmann::json& payload() const { return payload_; }
    const std::string& origin() const { return origin_; }

  private:
    const nlohmann::json& payload_;
    std::string origin_;
};

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "\"" : ", \"") + name + "\"";
    return out;
}

class PolicyDecoder {
  public:
    explicit PolicyDecoder(const PayloadReader& reader) : in_(reader) {}

    ServingPolicy decode() {
        const nlohmann::json& doc = in_.payload();
        policy_.revision = in_.text(doc, "revision");
        policy_.config = in_.member(doc, "config", "");
        if (!policy_.config.is_object()) in_.fail("config", "expected an object");
        policy_.id_column = in_.text(doc, "id_column");
        read_arms();
        policy_.k = int(in_.integer(doc, "k", 1, 1 << 24));
        policy_.deploy = in_.text(doc, "deploy");
        if (policy_.deploy != "integer" && policy_.deploy != "lp_split")
            in_.fail("deploy",
                     "expected \"integer\" or \"lp_split\", got \"" + policy_.deploy + "\"");
        read_encoder();
        const size_t k = size_t(policy_.k), cells = k * size_t(policy_.m());
        policy_.population =
            in_.numbers(in_.member(doc, "population", ""), k, 0.0, "population", "K");
        const nlohmann::json& estimates = in_.member(doc, "estimates", "");
        policy_.value = in_.numbers(in_.member(estimates, "value", "estimates."), cells, -HUGE_VAL,
                                    "estimates.value", "K x M");
        policy_.cost = in_.numbers(in_.member(estimates, "cost", "estimates."), cells, 0.0,
                                   "estimates.cost", "K x M");
        read_student();
        read_budgets();
        return std::move(policy_);
    }

  private:
    void read_arms() {
        policy_.arm_names = in_.strings(in_.member(in_.payload(), "arms", ""), "arms");
        if (policy_.arm_names.empty()) in_.fail("arms", "no arms");
        for (size_t j = 0; j < policy_.arm_names.size(); ++j) {
            if (arm_index_.count(policy_.arm_names[j]))
                in_.fail("arms[" + std::to_string(j) + "]",
                         "arm \"" + policy_.arm_names[j] + "\" is listed twice");
            arm_index_[policy_.arm_names[j]] = int(j);
        }
    }

    void read_encoder() {
        try {
            policy_.encoder = FeatureEncoder::from_json(in_.member(in_.payload(), "encoder", ""));
        } catch (const InputError& error) {
            in_.fail("encoder", error.what());
        }
        std::vector<std::string> columns =
            in_.strings(in_.member(in_.payload(), "input_columns", ""), "input_columns");
        if (columns != policy_.input_columns())
            in_.fail("input_columns", "[" + joined(columns) +
                                          "] do not match the encoder's "
                                          "columns [" +
                                          joined(policy_.input_columns()) + "]");
    }

    void read_student() {
        try {
            policy_.student = Mlp::from_json(in_.member(in_.payload(), "student", ""),
                                             in_.origin() + ": student");
        } catch (const nlohmann::json::exception& error) {
            in_.fail("student", error.what());
        }
        if (policy_.student.input_width() != policy_.encoder.width())
            in_.fail("student.widths[0]",
                     "input width " + std::to_string(policy_.student.input_width()) +
                         " does not match the encoder's " +
                         std::to_string(policy_.encoder.width()) + " features");
        if (policy_.student.output_width() != policy_.k)
            in_.fail("student.widths", "output width " +
                                           std::to_string(policy_.student.output_width()) +
                                           ", expected K = " + std::to_string(policy_.k));
    }

    int arm(const nlohmann::json& value, const std::string& where) const {
        if (!value.is_string()) in_.fail(where, "expected an arm name, got " + compact(value));
        auto it = arm_index_.find(value.get<std::string>());
        if (it == arm_index_.end())
            in_.fail(where, "unknown arm \"" + value.get<std::string>() +
                                "\"; the policy's arms are " + joined(policy_.arm_names));
        return it->second;
    }

    std::vector<int> cluster_arms(const nlohmann::json& value, const std::string& where) const {
        if (!value.is_array()) in_.fail(where, "expected an array of arm names");
        if (value.size() != size_t(policy_.k))
            in_.fail(where, std::to_string(value.size()) +
                                " entries, expected one per cluster, "
                                "K = " +
                                std::to_string(policy_.k));
        std::vector<int> arms;
        for (size_t c = 0; c < value.size(); ++c)
            arms.push_back(arm(value[c], where + "[" + std::to_string(c) + "]"));
        return arms;
    }

    std::optional<SplitCluster> split(const nlohmann::json& value, const std::string& where) {
        if (value.is_null()) return std::nullopt;
        if (!value.is_object()) in_.fail(where, "expected null or an object");
        SplitCluster cut;
        cut.cluster = int(in_.integer(value, "cluster", 0, policy_.k - 1, where + "."));
        cut.arm_low = arm(in_.member(value, "arm_low", where + "."), where + ".arm_low");
        cut.arm_high = arm(in_.member(value, "arm_high", where + "."), where + ".arm_high");
        cut.fraction =
            in_.number(in_.member(value, "fraction", where + "."), 0.0, 1.0, where + ".fraction");
        return cut;
    }

    void read_budgets() {
        const nlohmann::json& list = in_.member(in_.payload(), "budgets", "");
        if (!list.is_array() || list.empty())
            in_.fail("budgets", "expected a non-empty array of budget levels");
        for (size_t l = 0; l < list.size(); ++l) {
            std::string where = "budgets[" + std::to_string(l) + "]";
            const nlohmann::json& item = list[l];
            if (!item.is_object()) in_.fail(where, "expected an object");
            PolicyBudget entry;
            entry.fraction = in_.number(in_.member(item, "fraction", where + "."), 0.0, 1.0,
                                        where + ".fraction");
            entry.budget = in_.number(in_.member(item, "budget", where + "."), 0.0, HUGE_VAL,
                                      where + ".budget");
            entry.budget_per_capita = in_.number(in_.member(item, "budget_per_capita", where + "."),
                                                 0.0, HUGE_VAL, where + ".budget_per_capita");
            entry.arms = cluster_arms(in_.member(item, "arms", where + "."), where + ".arms");
            entry.lp_arms =
                cluster_arms(in_.member(item, "lp_arms", where + "."), where + ".lp_arms");
            entry.split = split(in_.member(item, "split", where + "."), where + ".split");
            if (l > 0 && entry.budget < policy_.budgets.back().budget)
                in_.fail(where + ".budget", "budgets must not decrease from level to level");
            policy_.budgets.push_back(entry);
        }
    }

    const PayloadReader& in_;
    ServingPolicy policy_;
    std::map<std::string, int> arm_index_;
};

nlohmann::json parse_document(const std::string& text, const std::string& origin) {
    if (text.empty()) throw InputError(origin + ": empty file; expected a policy file");
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& error) {
        if (error.byte >= text.size())
            throw InputError(origin + ": truncated: the JSON ends after " +
                             std::to_string(text.size()) +
                             " bytes before the document is complete (an interrupted copy?)");
        std::string detail = error.what();
        size_t bracket = detail.find("] ");
        if (bracket != std::string::npos) detail = detail.substr(bracket + 2);
        throw InputError(origin + ": not valid JSON: " + detail);
    }
}

void check_header(const nlohmann::json& doc, const std::string& origin) {
    auto format = doc.find("format");
    if (format == doc.end() || *format != kPolicyFormatName)
        throw InputError(origin + ": not a clusteralloc policy file (expected \"format\": \"" +
                         kPolicyFormatName + "\")");
    auto version = doc.find("format_version");
    if (version == doc.end() || !version->is_number_integer() ||
        version->get<long>() != kPolicyFormatVersion)
        throw InputError(origin + ": format_version " +
                         (version == doc.end() ? std::string("missing") : compact(*version)) +
                         "; this build reads version " + std::to_string(kPolicyFormatVersion) +
                         " (write the policy again with this build's `clusteralloc run`)");
    auto checksum = doc.find("checksum");
    if (checksum == doc.end() || !checksum->is_string())
        throw InputError(origin + ": checksum: required member is missing");
    nlohmann::json payload = doc;
    payload.erase("checksum");
    std::string computed = policy_checksum(payload);
    if (*checksum != computed)
        throw InputError(origin + ": checksum mismatch: the file says " + compact(*checksum) +
                         " but its content hashes to \"" + computed +
                         "\"; the file is corrupt or was edited");
}

}  // namespace

ServingPolicy parse_policy_text(const std::string& text, const std::string& origin) {
    nlohmann::json doc = parse_document(text, origin);
    if (!doc.is_object()) throw InputError(origin + ": expected a JSON object at the top level");
    check_header(doc, origin);
    PayloadReader reader(doc, origin);
    return PolicyDecoder(reader).decode();
}

ServingPolicy read_policy_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        CA_THROW(InputError, path << ": cannot open policy file (" << std::strerror(errno) << ")");
    std::ostringstream content;
    content << in.rdbuf();
    return parse_policy_text(content.str(), path);
}

}  // namespace ca
