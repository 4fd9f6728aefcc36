// `clusteralloc compare`: methods x datasets x seeds on the same splits, solver and metrics,
// published as tables (md, csv) and plots per dataset plus one overview.
#pragma once

namespace ca {

int compare_command(int argc, char** argv);

}  // namespace ca
