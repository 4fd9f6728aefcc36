// SVG rendering of line charts with "nice" tick steps (1, 2, 5 x 10^k).
#include "experiments/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace ca {

namespace {

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Range {
    double low = std::numeric_limits<double>::infinity();
    double high = -std::numeric_limits<double>::infinity();
    void include(double v) {
        if (!std::isfinite(v)) return;
        low = std::min(low, v);
        high = std::max(high, v);
    }
};

double nice_step(double span, int target_ticks) {
    double raw = span / std::max(target_ticks, 1);
    double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (double factor : {1.0, 2.0, 5.0, 10.0})
        if (factor * magnitude >= raw) return factor * magnitude;
    return 10.0 * magnitude;
}

void widen(Range& range) {
    if (!std::isfinite(range.low)) range = {0.0, 1.0};
    if (range.high - range.low < 1e-12) {
        double pad = std::max(std::abs(range.low) * 0.1, 1e-3);
        range.low -= pad;
        range.high += pad;
    }
}

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '&') out += "&amp;";
        else if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

std::string format_tick(double value, double step) {
    char buffer[32];
    int decimals = step >= 1.0 ? 0 : int(std::ceil(-std::log10(step)));
    std::snprintf(buffer, sizeof(buffer), "%.*f", std::min(decimals, 6), value);
    return buffer;
}

}  // namespace

std::string render_svg(const LinePlot& plot) {
    const double left = 70, right = 190, top = 40, bottom = 55;
    const double inner_w = plot.width - left - right, inner_h = plot.height - top - bottom;

    Range xr, yr;
    for (const auto& s : plot.series) {
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            xr.include(s.x[i]);
            double e = i < s.y_error.size() ? s.y_error[i] : 0.0;
            yr.include(s.y[i] - e);
            yr.include(s.y[i] + e);
        }
    }
    widen(xr);
    widen(yr);
    double x_step = nice_step(xr.high - xr.low, 6), y_step = nice_step(yr.high - yr.low, 6);
    yr.low = std::floor(yr.low / y_step) * y_step;
    yr.high = std::ceil(yr.high / y_step) * y_step;
    auto px = [&](double x) { return left + (x - xr.low) / (xr.high - xr.low) * inner_w; };
    auto py = [&](double y) { return top + (1.0 - (y - yr.low) / (yr.high - yr.low)) * inner_h; };

    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << plot.width << "\" height=\""
        << plot.height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"" << left + inner_w / 2 << "\" y=\"22\" text-anchor=\"middle\" "
        << "font-size=\"15\">" << escape(plot.title) << "</text>\n";

    // Grid and tick labels.
    for (double t = std::ceil(xr.low / x_step) * x_step; t <= xr.high + 1e-9 * x_step;
         t += x_step) {
        svg << "<line x1=\"" << px(t) << "\" y1=\"" << top << "\" x2=\"" << px(t) << "\" y2=\""
            << top + inner_h << "\" stroke=\"#e5e5e5\"/>\n"
            << "<text x=\"" << px(t) << "\" y=\"" << top + inner_h + 16
            << "\" text-anchor=\"middle\">" << format_tick(t, x_step) << "</text>\n";
    }
    for (double t = yr.low; t <= yr.high + 1e-9 * y_step; t += y_step) {
        svg << "<line x1=\"" << left << "\" y1=\"" << py(t) << "\" x2=\"" << left + inner_w
            << "\" y2=\"" << py(t) << "\" stroke=\"#e5e5e5\"/>\n"
            << "<text x=\"" << left - 6 << "\" y=\"" << py(t) + 4 << "\" text-anchor=\"end\">"
            << format_tick(t, y_step) << "</text>\n";
    }
    svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << inner_w
        << "\" height=\"" << inner_h << "\" fill=\"none\" stroke=\"#333\"/>\n"
        << "<text x=\"" << left + inner_w / 2 << "\" y=\"" << plot.height - 14
        << "\" text-anchor=\"middle\">" << escape(plot.x_label) << "</text>\n"
        << "<text transform=\"translate(18," << top + inner_h / 2
        << ") rotate(-90)\" text-anchor=\"middle\">" << escape(plot.y_label) << "</text>\n";

    // Series: band first, then the line and its markers, then the legend entry.
    for (size_t s = 0; s < plot.series.size(); ++s) {
        const PlotSeries& series = plot.series[s];
        const char* colour = kPalette[s % (sizeof(kPalette) / sizeof(kPalette[0]))];
        size_t count = std::min(series.x.size(), series.y.size());
        if (series.y_error.size() >= count && count > 1) {
            svg << "<polygon fill=\"" << colour << "\" fill-opacity=\"0.15\" points=\"";
            for (size_t i = 0; i < count; ++i)
                svg << px(series.x[i]) << ',' << py(series.y[i] + series.y_error[i]) << ' ';
            for (size_t i = count; i-- > 0;)
                svg << px(series.x[i]) << ',' << py(series.y[i] - series.y_error[i]) << ' ';
            svg << "\"/>\n";
        }
        svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\""
            << (series.dashed ? " stroke-dasharray=\"6,4\"" : "") << " points=\"";
        for (size_t i = 0; i < count; ++i) svg << px(series.x[i]) << ',' << py(series.y[i]) << ' ';
        svg << "\"/>\n";
        for (size_t i = 0; i < count; ++i)
            svg << "<circle cx=\"" << px(series.x[i]) << "\" cy=\"" << py(series.y[i])
                << "\" r=\"2.5\" fill=\"" << colour << "\"/>\n";
        double ly = top + 14 + 20.0 * s;
        svg << "<line x1=\"" << left + inner_w + 14 << "\" y1=\"" << ly << "\" x2=\""
            << left + inner_w + 40 << "\" y2=\"" << ly << "\" stroke=\"" << colour
            << "\" stroke-width=\"2\"" << (series.dashed ? " stroke-dasharray=\"6,4\"" : "")
            << "/>\n<text x=\"" << left + inner_w + 46 << "\" y=\"" << ly + 4 << "\">"
            << escape(series.label) << "</text>\n";
    }
    svg << "</svg>\n";
    return svg.str();
}

}  // namespace ca
