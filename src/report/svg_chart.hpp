#pragma once
// Inline SVG line charts for report.html: axes with ticks and units, a legend, optional bands
// (e.g. mean..p95..p99), vertical markers (arrival phase boundaries) and labelled event lines
// (steering: rate changes, pause/resume, agents added or removed). No script.

#include <string>
#include <vector>

namespace loadctl::report {

struct ChartSeries {
  std::string label;
  std::string color;          ///< CSS colour
  std::vector<double> x, y;   ///< NaN y values break the line
  bool dashed = false;        ///< e.g. the second run of a comparison
  bool band = false;          ///< filled area between `y` and `y_base` instead of a line
  std::vector<double> y_base;  ///< band's lower edge (same size as y)
};

struct ChartSpec {
  std::string id;        ///< element id, unique in the page
  std::string title;
  std::string x_label = "elapsed time (s)";
  std::string y_label;   ///< with unit, e.g. "response time (ms)"
  std::vector<ChartSeries> series;
  std::vector<double> markers;  ///< x positions of vertical dashed lines
  std::string marker_label = "phase";
  /// Steering events: a solid vertical line each, labelled with its text (x, text).
  std::vector<std::pair<double, std::string>> events;
  std::vector<std::pair<double, double>> alerts;  ///< x ranges shaded red (e.g. generator saturated)
  std::string alert_label;
  int width = 900, height = 300;
};

/// "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
/// Short tick label: 1500 -> "1.5k", 0.25 -> "0.25".
std::string tick_label(double v);
/// The <svg> element for `spec`. Each line is a <polyline class="series" data-points="N">.
std::string render_chart(const ChartSpec& spec);

}  // namespace loadctl::report
