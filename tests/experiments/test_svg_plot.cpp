// The SVG writer: one line per series, legend text escaped, bands only where errors are given.
#include <gtest/gtest.h>

#include "experiments/svg_plot.h"

namespace ca {
namespace {

size_t count_of(const std::string& text, const std::string& needle) {
    size_t count = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++count;
    return count;
}

TEST(SvgPlotTest, OneLinePerSeriesAndEscapedLegend) {
    LinePlot plot;
    plot.title = "EOM <test>";
    plot.series.push_back({"HRC & co", {0, 1, 2}, {1.0, 2.0, 3.0}, {0.1, 0.1, 0.1}, false});
    plot.series.push_back({"TSM-SL", {0, 1, 2}, {1.0, 1.5, 2.5}, {}, true});
    std::string svg = render_svg(plot);
    EXPECT_EQ(count_of(svg, "<polyline"), 2u);
    EXPECT_EQ(count_of(svg, "<polygon"), 1u);
    EXPECT_NE(svg.find("HRC &amp; co"), std::string::npos);
    EXPECT_NE(svg.find("EOM &lt;test&gt;"), std::string::npos);
    EXPECT_EQ(svg.rfind("</svg>"), svg.size() - 7);
}

TEST(SvgPlotTest, ConstantSeriesStillGetsAnAxisRange) {
    LinePlot plot;
    plot.series.push_back({"flat", {1, 1}, {2, 2}, {}, false});
    std::string svg = render_svg(plot);
    EXPECT_EQ(svg.find("nan"), std::string::npos);
    EXPECT_EQ(svg.find("inf"), std::string::npos);
}

}  // namespace
}  // namespace ca
