// `clusteralloc sweep`: a grid of config variations x seeds, one cell at a time, each cell's
// result written atomically so an interrupted sweep resumes where it stopped; then tables and
// plots of the headline metric against every grid axis.
#pragma once

namespace ca {

int sweep_command(int argc, char** argv);

}  // namespace ca
