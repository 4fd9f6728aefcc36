// Line charts as standalone SVG files: budget curves, cost curves and sweep plots.
// Hand-written because the output is a few dozen elements and must not pull in a plotting stack.
#pragma once

#include <string>
#include <vector>

namespace ca {

struct PlotSeries {
    std::string label;
    std::vector<double> x;
    std::vector<double> y;
    std::vector<double> y_error;  ///< optional half-width of a band around y (e.g. one std)
    bool dashed = false;
};

struct LinePlot {
    std::string title;
    std::string x_label;
    std::string y_label;
    std::vector<PlotSeries> series;
    int width = 760;
    int height = 460;
};

/// Renders the chart as an SVG document (axes with ticks, one colour per series, a shaded band
/// where y_error is given, and a legend).
std::string render_svg(const LinePlot& plot);

}  // namespace ca
