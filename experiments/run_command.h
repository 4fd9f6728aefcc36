// `clusteralloc run`: the whole HRC pipeline and its references on one dataset, over seeds.
#pragma once

namespace ca {

int run_command(int argc, char** argv);

}  // namespace ca
