// CSV rows to raw typed columns: header resolution, per-cell parsing and checks, and the
// whole-table checks (no rows, missing cells, bad propensities, arms without rows).
#include "core/table_loader.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "core/csv_reader.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/table_builder.h"

namespace ca {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool equals_ignoring_case(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) return false;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        if (c != lower[i]) return false;
    }
    return true;
}

}  // namespace

// The spellings of "no value" that exporters (pandas, R, spreadsheets) write.
bool is_missing_token(std::string_view text) {
    text = trim(text);
    return text.empty() || text == "NA" || text == "N/A" || equals_ignoring_case(text, "nan") ||
           equals_ignoring_case(text, "null");
}

// Non-finite numbers (inf, 1e999, beyond float range) count as missing: no model can use them.
Cell parse_number(std::string_view text, double& out) {
    if (is_missing_token(text)) return Cell::kMissing;
    text = trim(text);
    if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
    double parsed = 0;
    auto result = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (result.ptr != text.data() + text.size()) return Cell::kUnparsable;
    // from_chars leaves the value unset when out of range; strtod says overflow or underflow.
    if (result.ec == std::errc::result_out_of_range)
        parsed = std::strtod(std::string(text).c_str(), nullptr);
    else if (result.ec != std::errc())
        return Cell::kUnparsable;
    if (!std::isfinite(parsed) || std::fabs(parsed) > FLT_MAX) return Cell::kMissing;
    out = parsed;
    return Cell::kOk;
}

namespace {

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string join_quoted(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "" : ", ") + in_quotes(item);
    return out;
}

bool all_zero_or_one(const std::vector<float>& column) {
    return std::all_of(column.begin(), column.end(), [](float v) { return v == 0 || v == 1; });
}

}  // namespace

bool TableBuilder::add(const CsvRecord& record) {
    if (header_.empty()) {
        read_header(record);
        return true;
    }
    add_row(record);
    if (schema_.max_rows > 0 && table_.n >= schema_.max_rows) {
        table_.truncated = true;
        return false;
    }
    return true;
}

void TableBuilder::read_header(const CsvRecord& record) {
    header_line_ = record.line;
    for (std::string_view field : record.fields) header_.emplace_back(field);
    // A UTF-8 byte order mark from spreadsheet exports would otherwise stick to the first name.
    if (header_[0].rfind("\xEF\xBB\xBF", 0) == 0) header_[0].erase(0, 3);

    slots_.treatment = find_column(schema_.treatment, true);
    slots_.value = find_column(schema_.value, true);
    if (schema_.cost_from_column()) slots_.cost = find_column(schema_.cost, true);
    if (schema_.has_propensity()) slots_.propensity = find_column(schema_.propensity.column, true);
    if (schema_.has_id()) slots_.id = find_column(schema_.id, true);
    for (const AuxSpec& aux : schema_.aux) {
        int slot = find_column(aux.column, aux.required);
        if (slot < 0) {
            log_info(file_name_of(table_.path) + ": optional aux column '" + aux.column.name +
                     "' is not in the header; left out");
            continue;
        }
        slots_.aux.push_back(slot);
        table_.aux_names.push_back(aux.column.name);
    }
    table_.aux.resize(slots_.aux.size());
    for (const FeatureSpec& spec : schema_.features) {
        slots_.features.push_back(find_column(spec.column, true));
        RawFeature feature;
        feature.spec = spec;
        table_.features.push_back(feature);
    }
    level_index_.resize(table_.features.size());
}

int TableBuilder::find_column(const ColumnRef& column, bool required) {
    int found = -1;
    for (size_t i = 0; i < header_.size(); ++i) {
        if (header_[i] != column.name) continue;
        if (found >= 0) {
            throw InputError(
                at_location(table_.path, header_line_, long(i + 1),
                            "column '" + column.name + "' appears twice in the header (fields " +
                                std::to_string(found + 1) + " and " + std::to_string(i + 1) + ")"));
        }
        found = static_cast<int>(i);
    }
    if (found < 0 && required) {
        throw InputError(
            at_location(table_.path, header_line_, 0,
                        "column '" + column.name + "' (" + column.key +
                            ") is not in the header; the header has: " + join_quoted(header_)));
    }
    return found;
}

void TableBuilder::fail_cell(const CsvRecord& record, int slot, const std::string& message) const {
    throw InputError(at_location(table_.path, record.line, slot + 1,
                                 "column '" + header_[slot] + "': " + message));
}

void TableBuilder::add_row(const CsvRecord& record) {
    size_t expected = header_.size();
    size_t found = record.fields.size();
    if (found != expected) {
        std::ostringstream message;
        message << "expected " << expected << " fields as in the header, found " << found;
        if (found < expected) {
            message << "; the row ends before column '" << header_[found] << "'";
        } else {
            message << " (an unquoted comma inside a field?)";
        }
        throw InputError(at_location(table_.path, record.line, long(std::min(found, expected) + 1),
                                     message.str()));
    }

    int32_t arm = read_arm(record);
    table_.arm.push_back(arm);
    table_.value.push_back(static_cast<float>(read_outcome(record, slots_.value)));
    if (slots_.cost >= 0) {
        double cost = read_outcome(record, slots_.cost);
        if (cost < 0) {
            fail_cell(record, slots_.cost,
                      "negative cost " + std::string(record.fields[slots_.cost]) +
                          "; costs must be >= 0");
        }
        table_.cost.push_back(static_cast<float>(cost));
    } else {
        table_.cost.push_back(static_cast<float>(schema_.cost_per_arm[arm]));
    }
    for (size_t k = 0; k < slots_.aux.size(); ++k)
        table_.aux[k].push_back(static_cast<float>(read_outcome(record, slots_.aux[k])));
    for (size_t f = 0; f < table_.features.size(); ++f) read_feature(record, f);
    if (slots_.propensity >= 0) read_propensity(record, arm);
    table_.user_id.push_back(slots_.id >= 0 ? read_id(record) : table_.n);
    table_.source_line.push_back(record.line);
    ++table_.n;
}

int32_t TableBuilder::read_arm(const CsvRecord& record) {
    std::string_view label = record.fields[slots_.treatment];
    for (size_t j = 0; j < schema_.arm_labels.size(); ++j) {
        if (label == schema_.arm_labels[j]) return static_cast<int32_t>(j);
    }
    fail_cell(record, slots_.treatment,
              "unknown treatment label " + in_quotes(label) +
                  "; expected one of the configured arms (data.treatment.arms): " +
                  join_quoted(schema_.arm_labels));
}

double TableBuilder::read_outcome(const CsvRecord& record, int slot) {
    double number = 0;
    std::string_view text = record.fields[slot];
    switch (parse_number(text, number)) {
        case Cell::kOk:
            return number;
        case Cell::kMissing:
            fail_cell(record, slot,
                      "missing or non-finite value " + in_quotes(text) +
                          "; outcome and propensity cells are never imputed");
        default:
            fail_cell(record, slot, "cannot parse " + in_quotes(text) + " as a number");
    }
}

void TableBuilder::note_missing(const CsvRecord& record, int slot) {
    ++findings_.missing_cells;
    if (findings_.missing_examples.size() < kMissingExamplesShown) {
        findings_.missing_examples.push_back(std::to_string(record.line) + ":" +
                                             std::to_string(slot + 1) + " (" + header_[slot] + " " +
                                             in_quotes(record.fields[slot]) + ")");
    }
}

void TableBuilder::read_feature(const CsvRecord& record, size_t index) {
    RawFeature& feature = table_.features[index];
    int slot = slots_.features[index];
    std::string_view text = record.fields[slot];
    if (feature.categorical()) {
        int32_t code = -1;
        if (is_missing_token(text)) {
            note_missing(record, slot);
            ++feature.missing;
        } else {
            key_.assign(text.data(), text.size());
            auto inserted = level_index_[index].emplace(key_, int32_t(feature.levels.size()));
            if (inserted.second) feature.levels.push_back(key_);
            code = inserted.first->second;
        }
        feature.codes.push_back(code);
        return;
    }

    double number = 0;
    Cell cell = parse_number(text, number);
    if (cell == Cell::kUnparsable)
        fail_cell(record, slot, "cannot parse " + in_quotes(text) + " as a number");
    if (cell == Cell::kMissing) {
        note_missing(record, slot);
        ++feature.missing;
        number = std::numeric_limits<double>::quiet_NaN();
    } else if (feature.spec.type == FeatureType::kBinary && number != 0 && number != 1) {
        fail_cell(record, slot, "binary feature holds " + in_quotes(text) + "; expected 0 or 1");
    }
    feature.numbers.push_back(static_cast<float>(number));
}

void TableBuilder::read_propensity(const CsvRecord& record, int32_t arm) {
    double p = read_outcome(record, slots_.propensity);
    const PropensitySpec& spec = schema_.propensity;
    if (spec.invalid == InvalidPropensity::kClip) {
        double clipped = std::min(std::max(p, spec.clip_low), spec.clip_high);
        if (clipped != p) ++table_.propensity_clipped;
        p = clipped;
    } else if (!(p > 0 && p < 1)) {
        if (findings_.bad_propensity_count++ == 0)
            findings_.first_bad_propensity_line = record.line;
        if (findings_.bad_propensities.size() < kBadPropensitiesShown) {
            findings_.bad_propensities.push_back(
                std::to_string(record.line) + " (" +
                std::string(trim(record.fields[slots_.propensity])) + ")");
        }
    }
    // With two arms the column holds P(treated); the logged arm's probability follows from it.
    if (schema_.arms() == 2 && arm == 0) p = 1 - p;
    table_.propensity.push_back(p);
}

int64_t TableBuilder::read_id(const CsvRecord& record) {
    std::string_view text = trim(record.fields[slots_.id]);
    int64_t id = 0;
    auto result = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size())
        fail_cell(record, slots_.id, "cannot parse " + in_quotes(text) + " as an integer user id");
    return id;
}

void TableBuilder::check_missing_cells() const {
    if (findings_.missing_cells == 0 || schema_.missing == MissingPolicy::kImputeMean) return;
    std::string listing;
    for (const std::string& example : findings_.missing_examples)
        listing += (listing.empty() ? "" : ", ") + example;
    std::string first =
        findings_.missing_examples[0].substr(0, findings_.missing_examples[0].find(' '));
    std::ostringstream message;
    message << table_.path << ":" << first << ": " << findings_.missing_cells
            << " missing or non-finite feature cell" << (findings_.missing_cells > 1 ? "s" : "")
            << " (NaN, inf, empty, NA); first at line:column " << listing
            << (findings_.missing_cells > int64_t(findings_.missing_examples.size()) ? ", ..." : "")
            << ". Set data.missing to \"impute_mean\" to fill them with training means";
    throw InputError(message.str());
}

void TableBuilder::check_propensities() const {
    if (findings_.bad_propensity_count == 0) return;
    std::string listing;
    for (const std::string& line : findings_.bad_propensities)
        listing += (listing.empty() ? "" : ", ") + line;
    std::ostringstream message;
    message << findings_.bad_propensity_count << " propensit"
            << (findings_.bad_propensity_count > 1 ? "ies" : "y") << " outside (0, 1) in column '"
            << schema_.propensity.column.name << "', at lines " << listing
            << (findings_.bad_propensity_count > int64_t(findings_.bad_propensities.size())
                    ? ", ..."
                    : "")
            << "; inverse-propensity weights would be infinite. Fix the file or set "
               "data.propensity.invalid to \"clip\" (clips into ["
            << schema_.propensity.clip_low << ", " << schema_.propensity.clip_high << "])";
    throw InputError(at_location(table_.path, findings_.first_bad_propensity_line,
                                 slots_.propensity + 1, message.str()));
}

// Uplift needs every configured arm, control above all; a sample of a mostly treated file
// (Criteo is 85% treated) can easily miss one.
void TableBuilder::check_arms() const {
    std::vector<int64_t> counts = table_.arm_counts();
    std::vector<std::string> present, absent;
    for (size_t j = 0; j < counts.size(); ++j)
        (counts[j] > 0 ? present : absent).push_back(schema_.arm_labels[j]);
    if (absent.empty()) return;

    std::ostringstream message;
    message << table_.path << ": ";
    std::string levels;
    for (const std::string& label : present) levels += (levels.empty() ? "" : ", ") + label;
    if (present.size() == 1) message << "treatment has one level {" << levels << "}; ";
    if (counts[0] == 0) {
        message << "control (" << schema_.arm_labels[0] << ") rows are required";
    } else {
        message << "configured arm" << (absent.size() > 1 ? "s " : " ") << join_quoted(absent)
                << (absent.size() > 1 ? " have" : " has") << " no rows";
    }
    message << " (column '" << schema_.treatment.name << "', " << table_.n << " rows read";
    if (table_.truncated) message << ", stopped at data.max_rows";
    if (present.size() > 1) message << "; levels found: {" << levels << "}";
    message << ")";
    throw InputError(message.str());
}

RawTable TableBuilder::finish() {
    if (header_.empty())
        CA_THROW(InputError, table_.path << ": the file is empty; expected a header line");
    if (table_.n == 0) {
        throw InputError(at_location(
            table_.path, header_line_, 0,
            "no data rows in " + file_name_of(table_.path) + " (the file holds only a header)"));
    }
    check_missing_cells();
    check_propensities();
    check_arms();
    if (table_.propensity_clipped > 0) {
        log_warning(file_name_of(table_.path) + ": clipped " +
                    std::to_string(table_.propensity_clipped) +
                    " propensities outside (0, 1) "
                    "into [" +
                    std::to_string(schema_.propensity.clip_low) + ", " +
                    std::to_string(schema_.propensity.clip_high) + "]");
    }
    table_.value_is_binary = all_zero_or_one(table_.value);
    table_.cost_is_binary = all_zero_or_one(table_.cost);
    return std::move(table_);
}

std::vector<int64_t> RawTable::arm_counts() const {
    std::vector<int64_t> counts(arm_names.size(), 0);
    for (int32_t a : arm) counts[a] += 1;
    return counts;
}

std::string file_name_of(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

RawTable load_table(const DataSchema& schema) {
    CA_ASSERT(schema.source != DataSourceKind::kSynthetic);
    TableBuilder builder(schema);
    read_csv_file(schema.path, [&](const CsvRecord& record) { return builder.add(record); });
    return builder.finish();
}

}  // namespace ca
