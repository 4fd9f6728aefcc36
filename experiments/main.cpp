// Entry point of the clusteralloc command line: dispatches to a command and turns the
// library's exceptions into one error line and a non-zero exit.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "core/errors.h"
#include "experiments/assign_command.h"
#include "experiments/cli_options.h"
#include "experiments/compare_command.h"
#include "experiments/convert_command.h"
#include "experiments/generate_command.h"
#include "experiments/run_command.h"
#include "experiments/sweep_command.h"

namespace {

const char* kUsage =
    "usage: clusteralloc <command> [flags]\n"
    "commands:\n"
    "  run      train, cluster, allocate and evaluate on one dataset over seeds\n"
    "  compare  every method on several datasets over seeds; tables and plots\n"
    "  assign   serve a run's policy.json: a treatment for each user of a CSV at a budget\n"
    "  sweep    a resumable grid of config variations x seeds (ablations)\n"
    "  generate stream the synthetic RCT (with its truth) into a chunked HDF5 file\n"
    "  convert  a CSV through a config's schema into the HDF5 format\n"
    "  help     this text\n"
    "Run `clusteralloc <command> --help` for a command's flags.\n";

int dispatch(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help")) {
        std::fputs(kUsage, stdout);
        return argc < 2 ? 2 : 0;
    }
    std::string command = argv[1];
    if (command == "run") return ca::run_command(argc, argv);
    if (command == "compare") return ca::compare_command(argc, argv);
    if (command == "assign") return ca::assign_command(argc, argv);
    if (command == "sweep") return ca::sweep_command(argc, argv);
    if (command == "generate") return ca::generate_command(argc, argv);
    if (command == "convert") return ca::convert_command(argc, argv);
    std::fprintf(stderr, "error: unknown command \"%s\"\n%s", command.c_str(), kUsage);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return dispatch(argc, argv);
    } catch (const ca::HelpRequested& help) {
        std::fputs(help.text.c_str(), stdout);
        return 0;
    } catch (const ca::InputError& error) {
        std::fprintf(stderr, "error: %s\n", error.what());
        return 1;
    } catch (const ca::ConfigError& error) {
        std::fprintf(stderr, "error: %s\n", error.what());
        return 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "error: %s\n", error.what());
        return 3;
    }
}
