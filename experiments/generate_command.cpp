// The generate command: a config's synthetic settings (rows from the command line) streamed
// chunk by chunk into an HDF5 file that the "hdf5" data source reads back.
#include "experiments/generate_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/schema.h"
#include "experiments/cli_options.h"

namespace ca {

namespace {

const std::vector<FlagSpec> kGenerateFlags = {
    {"config", true, "config whose data object is the synthetic source (required)"},
    {"rows", true, "users to generate, replacing data.synthetic.rows"},
    {"out", true, "the HDF5 file to write (required)"},
    {"chunk", true, "rows generated and written per step (default 1000000)"},
    {"deflate", true, "deflate level 0-9 (default 0: uncompressed, fastest)"},
    {"quiet", false, "warnings and errors only"},
    {"help", false, "this text"},
};

const char* kGenerateUsage =
    "usage: clusteralloc generate --config FILE --rows N --out FILE.h5 [--chunk ROWS]\n"
    "Writes the config's synthetic RCT (with its true responses) as a chunked HDF5 file,\n"
    "generating ROWS rows at a time; read it back with \"data\": {\"source\": \"hdf5\",\n"
    "\"path\": \"FILE.h5\"}. The rows equal those of the synthetic source for any chunk size.\n";

constexpr long kMaxRows = 1L << 40;

SyntheticParams synthetic_params_of(const ConfigNode& root) {
    ConfigNode data = root.child("data");
    DataSchema schema = parse_data_schema(data);
    if (schema.source != DataSourceKind::kSynthetic) {
        data.fail("source", std::string("generate needs the synthetic source, got \"") +
                                to_string(schema.source) +
                                "\"; `clusteralloc convert` stores a CSV");
    }
    return parse_synthetic_params(data.child("synthetic"));
}

int64_t file_bytes(const std::string& path) {
    std::error_code error;
    auto size = std::filesystem::file_size(path, error);
    return error ? 0 : int64_t(size);
}

}  // namespace

GenerateSummary generate_to_hdf5(const SyntheticParams& params, const GenerateOptions& options) {
    CA_ASSERT_MSG(options.chunk_rows >= 1, "chunk of " << options.chunk_rows << " rows");
    check_synthetic_params(params);
    const double start = wall_seconds();

    // The first chunk fixes the layout (names, optional columns) of the whole file.
    Dataset chunk;
    int64_t count = std::min(options.chunk_rows, params.rows);
    generate_synthetic_rows(params, 0, count, chunk);
    Hdf5Layout layout = Hdf5Layout::of(chunk);
    layout.provenance = options.provenance;
    Hdf5WriteOptions storage = options.storage;
    if (storage.expected_rows == 0) storage.expected_rows = params.rows;
    Hdf5Writer writer(options.output_path, layout, storage);
    writer.append(chunk);

    for (int64_t first = count; first < params.rows; first += count) {
        count = std::min(options.chunk_rows, params.rows - first);
        chunk = Dataset();
        generate_synthetic_rows(params, first, count, chunk);
        writer.append(chunk);
        log_debug("generate: " + std::to_string(first + count) + " of " +
                  std::to_string(params.rows) + " rows");
    }
    writer.finish();

    GenerateSummary summary;
    summary.rows = writer.rows();
    summary.bytes = file_bytes(options.output_path);
    summary.seconds = wall_seconds() - start;
    return summary;
}

int generate_command(int argc, char** argv) {
    CliOptions flags = CliOptions::parse(argc, argv, 2, kGenerateFlags);
    if (flags.has("help")) {
        std::fputs(kGenerateUsage, stdout);
        std::fputs(describe_flags(kGenerateFlags).c_str(), stdout);
        return 0;
    }
    if (flags.has("quiet")) set_log_level(LogLevel::kWarning);
    const std::string config_path = flags.required("config");
    SyntheticParams params = synthetic_params_of(ConfigNode::from_file(config_path));
    params.rows = flags.get_int("rows", long(params.rows), 1, kMaxRows);

    GenerateOptions options;
    options.output_path = flags.required("out");
    options.chunk_rows = flags.get_int("chunk", long(options.chunk_rows), 1, kMaxRows);
    options.storage.deflate_level = int(flags.get_int("deflate", 0, 0, 9));
    nlohmann::json provenance = {{"command", "generate"},
                                 {"config", config_path},
                                 {"synthetic", synthetic_params_to_json(params)}};
    options.provenance = provenance.dump();

    GenerateSummary summary = generate_to_hdf5(params, options);
    char line[512];
    std::snprintf(line, sizeof(line), "wrote %s: %lld rows, %.1f MiB, %.1f s",
                  options.output_path.c_str(), static_cast<long long>(summary.rows),
                  double(summary.bytes) / (1 << 20), summary.seconds);
    log_info(line);
    return 0;
}

}  // namespace ca
