// Streaming generation into HDF5 and slice reads back: rows/s, file size and this process's
// peak memory, which stays near one chunk's worth of rows whatever the row count. Usage:
// bench_storage out.h5 [rows] [chunk rows] [read slice rows]; prints one JSON line.
#include <omp.h>

#include <filesystem>

#include "bench/bench_util.h"
#include "core/hdf5_store.h"
#include "core/log.h"
#include "experiments/generate_command.h"

int main(int argc, char** argv) {
    using namespace ca;
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_storage out.h5 [rows] [chunk] [slice]\n");
        return 2;
    }
    set_log_level(LogLevel::kWarning);
    SyntheticParams params;
    params.rows = bench::argument(argc, argv, 2, 1000000);
    GenerateOptions options;
    options.output_path = argv[1];
    options.chunk_rows = bench::argument(argc, argv, 3, 1000000);
    const int64_t slice = bench::argument(argc, argv, 4, 1000000);

    GenerateSummary written = generate_to_hdf5(params, options);
    const double generate_rss = bench::peak_rss_mib();
    Hdf5Reader reader(options.output_path);
    int64_t read_rows = 0;
    const double read_seconds = bench::time_once([&] {
        for (int64_t first = 0; first < reader.rows(); first += slice)
            read_rows += reader.read_rows(first, std::min(slice, reader.rows() - first)).n;
    });
    bench::emit("storage", "generate_rows_per_s", double(written.rows) / written.seconds, "rows/s",
                {{"rows", written.rows},
                 {"chunk_rows", options.chunk_rows},
                 {"file_mib", double(written.bytes) / (1 << 20)},
                 {"generate_peak_rss_mib", generate_rss},
                 {"read_rows_per_s", double(read_rows) / read_seconds},
                 {"read_mb_per_s", double(written.bytes) / read_seconds / 1e6},
                 {"slice_rows", slice},
                 {"threads", omp_get_max_threads()}});
    return 0;
}
