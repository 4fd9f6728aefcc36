// Ranks reading one CSV file side by side: byte slices, their first line numbers, the check
// that every cut fell between records, and the join of the ranks' rows in file order.
#include <algorithm>
#include <exception>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/csv_slices.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/rank_gather.h"
#include "core/table_builder.h"
#include "core/table_loader.h"

namespace ca {

namespace {

// How a rank's slice read.
enum class SliceStatus { kBetweenRecords, kInsideRecord, kInputError };

struct SliceResult {
    SliceStatus status = SliceStatus::kBetweenRecords;
    std::string error;
};

// The file line where this rank's slice starts: 1 + the line feeds of the slices before it.
int64_t first_line_of_slice(int64_t own_feeds, Communicator& comm) {
    std::vector<int64_t> feeds(size_t(comm.size()), 0);
    feeds[size_t(comm.rank())] = own_feeds;
    allreduce_sum(comm, feeds);
    return 1 + std::accumulate(feeds.begin(), feeds.begin() + comm.rank(), int64_t(0));
}

// Runs step, turning an InputError into the slice's result, so that every rank still reaches
// the collectives that follow.
template <typename Step>
void capture(SliceResult& result, Step step) {
    if (result.status != SliceStatus::kBetweenRecords) return;
    try {
        step();
    } catch (const InputError& error) {
        result.status = SliceStatus::kInputError;
        result.error = error.what();
    }
}

SliceResult read_slice(TableBuilder& builder, const DataSchema& schema, Communicator& comm) {
    SliceResult result;
    ByteSlice slice;
    int64_t feeds = 0;
    auto add = [&builder](const CsvRecord& record) { return builder.add(record); };
    capture(result, [&] {
        // Every rank resolves the header; the first slice holds it whole and parses it there.
        auto skip = [](const CsvRecord&) { return false; };
        const int64_t header_end = comm.rank() > 0 ? read_csv_header(schema.path, add)
                                                   : read_csv_header(schema.path, skip);
        slice = csv_byte_slice(schema.path, comm.rank(), comm.size(), header_end);
        feeds = count_line_feeds(schema.path, slice);
    });
    const int64_t first_line = first_line_of_slice(feeds, comm);
    capture(result, [&] {
        if (!read_csv_slice(schema.path, slice, first_line, add))
            result.status = SliceStatus::kInsideRecord;
    });
    return result;
}

// Walks the slices in file order: a slice's reading counts only when every slice before it
// ended between records (then it started at a record). The first error so found is thrown on
// every rank; returns false when a cut fell inside a record.
bool slices_agree(const SliceResult& mine, Communicator& comm) {
    std::vector<std::string> own = {std::to_string(int(mine.status)), mine.error};
    for (const std::vector<std::string>& slice : allgather_strings(comm, own)) {
        const auto status = SliceStatus(std::stoi(slice[0]));
        if (status == SliceStatus::kInputError) throw InputError(slice[1]);
        if (status == SliceStatus::kInsideRecord) return false;
    }
    return true;
}

// Categorical codes: the levels are those of the first slice, then each later slice's new
// ones in its order, which is the order of first appearance in the whole file.
void join_categorical(RawFeature& feature, const std::vector<int64_t>& rows_per_rank,
                      Communicator& comm) {
    std::vector<std::vector<std::string>> levels = allgather_strings(comm, feature.levels);
    std::vector<int32_t> codes = concatenate_over_ranks(comm, feature.codes);
    std::unordered_map<std::string, int32_t> index;
    std::vector<std::string> joined;
    int64_t row = 0;
    for (size_t r = 0; r < levels.size(); ++r) {
        std::vector<int32_t> remap(levels[r].size());
        for (size_t l = 0; l < levels[r].size(); ++l) {
            auto inserted = index.emplace(levels[r][l], int32_t(joined.size()));
            if (inserted.second) joined.push_back(levels[r][l]);
            remap[l] = inserted.first->second;
        }
        for (int64_t end = row + rows_per_rank[r]; row < end; ++row)
            if (codes[size_t(row)] >= 0) codes[size_t(row)] = remap[size_t(codes[size_t(row)])];
    }
    feature.codes = std::move(codes);
    feature.levels = std::move(joined);
}

// The first `limit` entries over the ranks in rank order.
std::vector<std::string> first_over_ranks(const std::vector<std::string>& mine, size_t limit,
                                          Communicator& comm) {
    std::vector<std::string> joined;
    for (const std::vector<std::string>& part : allgather_strings(comm, mine))
        for (const std::string& entry : part)
            if (joined.size() < limit) joined.push_back(entry);
    return joined;
}

void join_findings(RowFindings& findings, Communicator& comm) {
    findings.missing_cells = allreduce_sum(comm, findings.missing_cells);
    findings.missing_examples =
        first_over_ranks(findings.missing_examples, kMissingExamplesShown, comm);
    std::vector<int64_t> first_lines =
        concatenate_over_ranks(comm, std::vector<int64_t>{findings.first_bad_propensity_line});
    std::vector<int64_t> counts =
        concatenate_over_ranks(comm, std::vector<int64_t>{findings.bad_propensity_count});
    findings.first_bad_propensity_line = 0;
    for (size_t r = 0; r < counts.size() && findings.first_bad_propensity_line == 0; ++r)
        if (counts[r] > 0) findings.first_bad_propensity_line = first_lines[r];
    findings.bad_propensity_count = std::accumulate(counts.begin(), counts.end(), int64_t(0));
    findings.bad_propensities =
        first_over_ranks(findings.bad_propensities, kBadPropensitiesShown, comm);
}

void join_rows(TableBuilder& builder, Communicator& comm) {
    RawTable& table = builder.table();
    const std::vector<int64_t> rows_per_rank =
        concatenate_over_ranks(comm, std::vector<int64_t>{table.n});
    table.n = std::accumulate(rows_per_rank.begin(), rows_per_rank.end(), int64_t(0));
    join_over_ranks(comm, table.arm);
    join_over_ranks(comm, table.value);
    join_over_ranks(comm, table.cost);
    for (std::vector<float>& column : table.aux) join_over_ranks(comm, column);
    join_over_ranks(comm, table.propensity);
    table.propensity_clipped = allreduce_sum(comm, table.propensity_clipped);
    join_over_ranks(comm, table.source_line);
    if (builder.ids_are_row_indices()) {
        table.user_id.resize(size_t(table.n));
        std::iota(table.user_id.begin(), table.user_id.end(), int64_t(0));
    } else {
        join_over_ranks(comm, table.user_id);
    }
    for (RawFeature& feature : table.features) {
        feature.missing = allreduce_sum(comm, feature.missing);
        if (feature.categorical())
            join_categorical(feature, rows_per_rank, comm);
        else
            join_over_ranks(comm, feature.numbers);
    }
    join_findings(builder.findings(), comm);
}

}  // namespace

RawTable load_table(const DataSchema& schema, Communicator& comm, bool* read_in_slices) {
    if (read_in_slices) *read_in_slices = false;
    if (comm.size() == 1 || schema.max_rows > 0 || !csv_sliceable(schema.path))
        return load_table(schema);
    TableBuilder builder(schema);
    if (!slices_agree(read_slice(builder, schema, comm), comm)) {
        log_info(file_name_of(schema.path) +
                 ": a slice boundary fell inside a quoted field; every rank reads the whole file");
        return load_table(schema);
    }
    join_rows(builder, comm);
    log_debug(file_name_of(schema.path) + ": read in " + std::to_string(comm.size()) +
              " byte slices, one per rank");
    if (read_in_slices) *read_in_slices = true;
    return builder.finish();
}

}  // namespace ca
