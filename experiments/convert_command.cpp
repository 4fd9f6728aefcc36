// The convert command: load a CSV through the schema, then append it to an HDF5 file chunk by
// chunk. The table is read whole first (the loader's checks span the file: every arm present,
// binary outcomes), so peak memory is that of loading the CSV for a run.
#include "experiments/convert_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/stored_table.h"
#include "experiments/cli_options.h"

namespace ca {

namespace {

const std::vector<FlagSpec> kConvertFlags = {
    {"config", true, "config whose data object describes the CSV (required)"},
    {"data", true, "the CSV (plain or gzip), replacing data.path of the config"},
    {"out", true, "the HDF5 file to write (required)"},
    {"chunk", true, "rows written per step (default 1000000)"},
    {"deflate", true, "deflate level 0-9 (default 0: uncompressed, fastest)"},
    {"quiet", false, "warnings and errors only"},
    {"help", false, "this text"},
};

const char* kConvertUsage =
    "usage: clusteralloc convert --config FILE [--data in.csv] --out out.h5 [--chunk ROWS]\n"
    "Reads the CSV through the config's data schema (with all of its checks) and stores its\n"
    "raw columns as a chunked HDF5 file; read it back with \"data\": {\"source\": \"hdf5\",\n"
    "\"path\": \"out.h5\"}. Runs on the stored file equal runs on the CSV.\n";

constexpr long kMaxRows = 1L << 40;

DataSchema csv_schema_of(const ConfigNode& root, const std::string& data_path) {
    ConfigNode data = root.child("data");
    if (is_hdf5_source(data)) data.fail("source", "the data are stored already (hdf5)");
    DataSchema schema = parse_data_schema(data, data_path);
    if (schema.source == DataSourceKind::kSynthetic)
        data.fail("source", "convert reads a CSV; `clusteralloc generate` stores synthetic data");
    return schema;
}

}  // namespace

int64_t store_table(const RawTable& table, MissingPolicy missing, const ConvertOptions& options) {
    CA_ASSERT_MSG(options.chunk_rows >= 1, "chunk of " << options.chunk_rows << " rows");
    Hdf5Layout layout = stored_layout(table, missing);
    layout.provenance = options.provenance;
    Hdf5WriteOptions storage = options.storage;
    if (storage.expected_rows == 0) storage.expected_rows = table.n;
    Hdf5Writer writer(options.output_path, layout, storage);
    for (int64_t first = 0; first < table.n; first += options.chunk_rows) {
        int64_t count = std::min(options.chunk_rows, table.n - first);
        writer.append(stored_rows(table, first, count));
    }
    writer.finish();
    std::error_code error;
    auto bytes = std::filesystem::file_size(options.output_path, error);
    return error ? 0 : int64_t(bytes);
}

int convert_command(int argc, char** argv) {
    CliOptions flags = CliOptions::parse(argc, argv, 2, kConvertFlags);
    if (flags.has("help")) {
        std::fputs(kConvertUsage, stdout);
        std::fputs(describe_flags(kConvertFlags).c_str(), stdout);
        return 0;
    }
    if (flags.has("quiet")) set_log_level(LogLevel::kWarning);
    const std::string config_path = flags.required("config");
    DataSchema schema = csv_schema_of(ConfigNode::from_file(config_path), flags.get("data"));

    ConvertOptions options;
    options.output_path = flags.required("out");
    options.chunk_rows = flags.get_int("chunk", long(options.chunk_rows), 1, kMaxRows);
    options.storage.deflate_level = int(flags.get_int("deflate", 0, 0, 9));
    nlohmann::json provenance = {
        {"command", "convert"}, {"config", config_path}, {"data", data_schema_to_json(schema)}};
    options.provenance = provenance.dump();

    const double start = wall_seconds();
    RawTable table = load_table(schema);
    const int64_t bytes = store_table(table, schema.missing, options);
    char line[512];
    std::snprintf(
        line, sizeof(line), "wrote %s: %lld rows, %zu features, %zu arms, %.1f MiB, %.1f s",
        options.output_path.c_str(), static_cast<long long>(table.n), table.features.size(),
        table.arm_names.size(), double(bytes) / (1 << 20), wall_seconds() - start);
    log_info(line);
    return 0;
}

}  // namespace ca
