// The assign command: the CSV reader's callback fills a block of encoded rows, each full block
// goes through the student and the budget's allocation, and its lines are appended to a
// temporary output file that is renamed once the last row is written.
#include "experiments/assign_command.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/csv_reader.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/table_loader.h"
#include "experiments/cli_options.h"

namespace ca {

namespace {

const std::vector<FlagSpec> kAssignFlags = {
    {"policy", true, "policy.json written by `clusteralloc run` (required)"},
    {"budget", true, "expected cost per user (per capita), in the data's cost units (required)"},
    {"input", true, "users CSV with the policy's input columns, plain or gzip (required)"},
    {"out", true, "assignments CSV: user_id,cluster,treatment (required)"},
    {"budget-mode", true, "lower (nearest grid budget below, default) or interpolate"},
    {"id-column", true, "integer user id column (default: the policy's, else the row index)"},
    {"device", true, "cpu (default) or cuda for the student's forward pass"},
    {"quiet", false, "warnings and errors only"},
    {"help", false, "this text"},
};

const char* kAssignUsage =
    "usage: clusteralloc assign --policy FILE --budget B --input users.csv --out out.csv\n"
    "                           [--budget-mode lower|interpolate] [--id-column NAME]\n"
    "                           [--device cpu|cuda]\n"
    "Assigns each user a treatment: features -> student -> cluster -> the allocation at\n"
    "budget B (expected cost per user). Missing numbers take the training mean, unknown or\n"
    "missing categories encode as no known level.\n";

// Appends lines to "<path>.tmp-<pid>"; commit() renames it onto path. Destroyed uncommitted,
// it removes the temporary file, so a failed run leaves nothing that looks like a result.
class AssignmentWriter {
  public:
    explicit AssignmentWriter(std::string path)
        : path_(std::move(path)), temporary_(path_ + ".tmp-" + std::to_string(getpid())) {
        out_.open(temporary_, std::ios::binary | std::ios::trunc);
        if (!out_) CA_THROW(InputError, path_ << ": cannot write the assignments");
    }
    ~AssignmentWriter() {
        if (committed_) return;
        out_.close();
        std::remove(temporary_.c_str());
    }
    AssignmentWriter(const AssignmentWriter&) = delete;
    AssignmentWriter& operator=(const AssignmentWriter&) = delete;

    void write(const std::string& text) {
        out_.write(text.data(), std::streamsize(text.size()));
        if (!out_) CA_THROW(InputError, path_ << ": write failed (disk full?)");
    }
    void commit() {
        out_.close();
        if (!out_) CA_THROW(InputError, path_ << ": write failed (disk full?)");
        std::error_code error;
        std::filesystem::rename(temporary_, path_, error);
        if (error)
            CA_THROW(InputError,
                     path_ << ": cannot rename the finished file into place: " << error.message());
        committed_ = true;
    }

  private:
    std::string path_, temporary_;
    std::ofstream out_;
    bool committed_ = false;
};

// A CSV field, quoted when it holds a comma, quote or line break.
std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// The streaming state: header lookup, the current block of encoded rows, the output.
class UserStream {
  public:
    UserStream(const AssignOptions& options, PolicyServer& server, const BudgetLookup& lookup,
               Backend& backend, AssignmentWriter& writer)
        : options_(options),
          server_(server),
          lookup_(lookup),
          backend_(backend),
          writer_(writer),
          raw_(server.policy().input_columns().size()),
          arm_rows_(server.policy().m(), 0) {
        for (const std::string& arm : server.policy().arm_names)
            arm_fields_.push_back(csv_field(arm));
    }

    bool add(const CsvRecord& record) {
        if (header_.empty()) {
            read_header(record);
            return true;
        }
        add_row(record);
        if (block_ids_.size() == size_t(options_.block_rows)) flush();
        return true;
    }

    void finish() {
        if (header_.empty())
            throw InputError(options_.input_path +
                             ": empty file; expected a header with the "
                             "policy's input columns");
        flush();
    }

    int64_t rows() const { return rows_; }
    const std::vector<int64_t>& arm_rows() const { return arm_rows_; }

  private:
    [[noreturn]] void fail(int64_t line, long column, const std::string& message) const {
        throw InputError(at_location(options_.input_path, line, column, message));
    }

    int find_column(const std::string& name, const std::string& role, int64_t line) const {
        int found = -1;
        for (size_t i = 0; i < header_.size(); ++i) {
            if (header_[i] != name) continue;
            if (found >= 0)
                fail(line, long(i + 1), "column '" + name + "' appears twice in the header");
            found = int(i);
        }
        if (found < 0) {
            std::string names;
            for (const std::string& field : header_)
                names += (names.empty() ? "'" : ", '") + field + "'";
            fail(line, 0,
                 "column '" + name + "' (" + role +
                     ") is not in the header; the "
                     "header has: " +
                     names);
        }
        return found;
    }

    void read_header(const CsvRecord& record) {
        for (std::string_view field : record.fields) header_.emplace_back(field);
        // A UTF-8 byte order mark from spreadsheet exports would stick to the first name.
        if (header_[0].rfind("\xEF\xBB\xBF", 0) == 0) header_[0].erase(0, 3);
        for (const std::string& name : server_.policy().input_columns())
            input_slots_.push_back(find_column(name, "an input of the policy", record.line));
        std::string id =
            options_.id_column.empty() ? server_.policy().id_column : options_.id_column;
        if (!id.empty())
            id_slot_ = find_column(
                id, options_.id_column.empty() ? "the policy's id column" : "--id-column",
                record.line);
        writer_.write("user_id,cluster,treatment\n");
    }

    void check_cell(const CsvRecord& record, size_t column, int slot) const {
        const EncodedColumn& spec = server_.policy().encoder.columns()[column];
        if (spec.type == FeatureType::kCategorical) return;
        double v = 0.0;
        Cell cell = parse_number(record.fields[slot], v);
        if (cell == Cell::kUnparsable)
            fail(record.line, slot + 1,
                 "column '" + spec.name + "': cannot parse \"" + std::string(record.fields[slot]) +
                     "\" as a number");
        if (cell == Cell::kOk && spec.type == FeatureType::kBinary && v != 0 && v != 1)
            fail(record.line, slot + 1,
                 "binary column '" + spec.name + "' got \"" + std::string(record.fields[slot]) +
                     "\"; expected 0 or 1");
    }

    int64_t read_id(const CsvRecord& record) const {
        if (id_slot_ < 0) return rows_ + int64_t(block_ids_.size());
        std::string_view text = trimmed(record.fields[id_slot_]);
        int64_t id = 0;
        auto result = std::from_chars(text.data(), text.data() + text.size(), id);
        if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size())
            fail(record.line, id_slot_ + 1,
                 "column '" + header_[id_slot_] + "': cannot parse \"" + std::string(text) +
                     "\" as an integer user id");
        return id;
    }

    void add_row(const CsvRecord& record) {
        if (record.fields.size() != header_.size())
            fail(record.line, long(std::min(record.fields.size(), header_.size()) + 1),
                 "expected " + std::to_string(header_.size()) + " fields as in the header, found " +
                     std::to_string(record.fields.size()));
        for (size_t c = 0; c < input_slots_.size(); ++c) {
            check_cell(record, c, input_slots_[c]);
            raw_[c].assign(record.fields[input_slots_[c]]);
        }
        const int d = server_.width();
        block_x_.resize((block_ids_.size() + 1) * size_t(d));
        try {
            server_.encode_row(raw_, block_x_.data() + block_ids_.size() * d);
        } catch (const InputError& error) {
            fail(record.line, 0, error.what());
        }
        block_ids_.push_back(read_id(record));
    }

    void flush() {
        const size_t n = block_ids_.size();
        if (n == 0) return;
        clusters_.resize(n);
        server_.predict_clusters(block_x_.data(), int64_t(n), backend_, clusters_.data());
        text_.clear();
        char number[24];
        for (size_t i = 0; i < n; ++i) {
            int arm = arm_for_user(lookup_.allocation, clusters_[i], block_ids_[i]);
            ++arm_rows_[arm];
            text_.append(number, std::to_chars(number, number + sizeof(number), block_ids_[i]).ptr);
            text_ += ',';
            text_.append(number, std::to_chars(number, number + sizeof(number), clusters_[i]).ptr);
            text_ += ',';
            text_ += arm_fields_[arm];
            text_ += '\n';
        }
        writer_.write(text_);
        rows_ += int64_t(n);
        block_ids_.clear();
        block_x_.clear();
    }

    const AssignOptions& options_;
    PolicyServer& server_;
    const BudgetLookup& lookup_;
    Backend& backend_;
    AssignmentWriter& writer_;
    std::vector<std::string> header_;
    std::vector<int> input_slots_;
    int id_slot_ = -1;
    std::vector<std::string> raw_;
    std::vector<std::string> arm_fields_;
    std::vector<float> block_x_;
    std::vector<int64_t> block_ids_;
    std::vector<int32_t> clusters_;
    std::string text_;
    int64_t rows_ = 0;
    std::vector<int64_t> arm_rows_;
};

std::string describe(const AssignSummary& summary, const AssignOptions& options) {
    std::ostringstream out;
    out.precision(4);
    out << "assigned " << summary.rows << " users from " << options.input_path << " to "
        << options.output_path << " at budget " << options.budget << " per capita ("
        << (options.mode == BudgetMode::kLower ? "lower grid point" : "interpolated")
        << "); expected cost per capita " << summary.lookup.expected_cost << ";";
    for (size_t j = 0; j < summary.arm_names.size(); ++j)
        out << (j ? ", " : " ") << summary.arm_names[j] << " " << summary.arm_rows[j];
    return out.str();
}

}  // namespace

AssignSummary assign_users(const AssignOptions& options, Backend& backend) {
    if (options.block_rows < 1)
        CA_THROW(ConfigError, "assign: block_rows must be >= 1, got " << options.block_rows);
    PolicyServer server(read_policy_file(options.policy_path));
    AssignSummary summary;
    summary.lookup = lookup_budget(server.policy(), options.budget, options.mode);
    if (!summary.lookup.warning.empty()) log_warning(summary.lookup.warning);

    AssignmentWriter writer(options.output_path);
    UserStream stream(options, server, summary.lookup, backend, writer);
    read_csv_file(options.input_path,
                  [&stream](const CsvRecord& record) { return stream.add(record); });
    stream.finish();
    writer.commit();
    summary.rows = stream.rows();
    summary.arm_rows = stream.arm_rows();
    summary.arm_names = server.policy().arm_names;
    return summary;
}

int assign_command(int argc, char** argv) {
    CliOptions flags = CliOptions::parse(argc, argv, 2, kAssignFlags);
    if (flags.has("help")) {
        std::fputs(kAssignUsage, stdout);
        std::fputs(describe_flags(kAssignFlags).c_str(), stdout);
        return 0;
    }
    if (flags.has("quiet")) set_log_level(LogLevel::kWarning);
    AssignOptions options;
    options.policy_path = flags.required("policy");
    options.input_path = flags.required("input");
    options.output_path = flags.required("out");
    flags.required("budget");
    options.budget = flags.get_double("budget", 0.0);
    std::string mode = flags.get("budget-mode", "lower");
    if (!budget_mode_from_name(mode, &options.mode))
        CA_THROW(ConfigError, "command line: --budget-mode expects lower or interpolate, got \""
                                  << mode << "\"");
    options.id_column = flags.get("id-column");

    std::unique_ptr<Backend> backend = make_backend(flags.get("device", "cpu"));
    AssignSummary summary = assign_users(options, *backend);
    if (summary.rows == 0) log_warning(options.input_path + ": no users after the header");
    log_info(describe(summary, options));
    return 0;
}

}  // namespace ca
