#include "report/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "report/html_escape.hpp"

namespace loadctl::report {

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + 1;
  double raw = (hi - lo) / std::max(target, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  long first = std::lround(std::ceil(lo / step - 1e-9)), last = std::lround(std::ceil(hi / step - 1e-9));
  for (long k = first; k <= last; ++k) ticks.push_back(static_cast<double>(k) * step);
  return ticks;
}

std::string tick_label(double v) {
  double a = std::abs(v);
  if (a >= 1e9) return fmt::format("{:g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", std::round(v * 1e6) / 1e6);
}

namespace {

constexpr int kLeft = 64, kRight = 16, kTop = 34, kBottom = 44;

struct Frame {
  double x0, x1, y0, y1;
  int w, h;
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (w - kLeft - kRight); }
  double py(double y) const { return h - kBottom - (y - y0) / (y1 - y0) * (h - kTop - kBottom); }
};

Frame frame_for(const ChartSpec& spec) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y1 = 0;
  for (const auto& s : spec.series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y1 = std::max(y1, s.y[i]);
    }
  }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  x0 = std::min(x0, 0.0);
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= 0) y1 = 1;
  auto yt = nice_ticks(0, y1);
  return Frame{x0, x1, 0, std::max(yt.back(), y1), spec.width, spec.height};
}

void axes(std::string& out, const ChartSpec& spec, const Frame& f) {
  int plot_bottom = f.h - kBottom;
  out += fmt::format(R"(<g class="axes" font-size="11" fill="#333">)");
  for (double t : nice_ticks(f.y0, f.y1, 5)) {
    double y = f.py(t);
    out += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#e3e3e3"/>)", kLeft, y, f.w - kRight, y);
    out += fmt::format(R"(<text class="ytick" x="{}" y="{:.1f}" text-anchor="end">{}</text>)", kLeft - 5, y + 4,
                       tick_label(t));
  }
  for (double t : nice_ticks(f.x0, f.x1, 8)) {
    if (t > f.x1 + 1e-9) break;
    double x = f.px(t);
    out += fmt::format(R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#999"/>)", x, plot_bottom, x, plot_bottom + 4);
    out += fmt::format(R"(<text class="xtick" x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", x, plot_bottom + 16,
                       tick_label(t));
  }
  out += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#555"/><line x1="{0}" y1="{3}" x2="{0}" y2="{1}" stroke="#555"/>)",
                     kLeft, plot_bottom, f.w - kRight, kTop);
  out += fmt::format(R"(<text class="xlabel" x="{}" y="{}" text-anchor="middle">{}</text>)", (kLeft + f.w - kRight) / 2,
                     f.h - 8, html_escape(spec.x_label));
  out += fmt::format(R"svg(<text class="ylabel" transform="translate(14,{}) rotate(-90)" text-anchor="middle">{}</text>)svg",
                     (kTop + plot_bottom) / 2, html_escape(spec.y_label));
  out += "</g>";
}

struct Pt {
  double x, y;  // SVG coordinates
};

// Keeps the first, lowest, highest and last point of each pixel column: a day-long run stays a
// few thousand points per line without hiding a spike.
std::vector<Pt> thin(const std::vector<Pt>& pts) {
  std::vector<Pt> out;
  for (std::size_t i = 0; i < pts.size();) {
    long col = std::lround(pts[i].x);
    std::size_t j = i, lo = i, hi = i;
    for (; j < pts.size() && std::lround(pts[j].x) == col; ++j) {
      if (pts[j].y < pts[lo].y) lo = j;
      if (pts[j].y > pts[hi].y) hi = j;
    }
    std::size_t keep[] = {i, std::min(lo, hi), std::max(lo, hi), j - 1};
    for (std::size_t k = 0; k < 4; ++k)
      if (k == 0 || keep[k] != keep[k - 1]) out.push_back(pts[keep[k]]);
    i = j;
  }
  return out;
}

// Points of one series, split where y is missing, thinned per pixel column.
std::vector<std::vector<Pt>> runs_of_points(const ChartSeries& s, const Frame& f) {
  std::vector<std::vector<Pt>> runs(1);
  for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
      if (!runs.back().empty()) runs.emplace_back();
      continue;
    }
    runs.back().push_back({f.px(s.x[i]), f.py(s.y[i])});
  }
  if (runs.back().empty()) runs.pop_back();
  for (auto& r : runs) r = thin(r);
  return runs;
}

std::string points_text(const std::vector<Pt>& pts) {
  std::string out;
  for (const Pt& p : pts) out += fmt::format("{}{:.1f},{:.1f}", out.empty() ? "" : " ", p.x, p.y);
  return out;
}

// A filled band between y_base and y; per pixel column its widest extent.
void band(std::string& out, const ChartSeries& s, const Frame& f) {
  std::vector<Pt> upper, lower;
  for (std::size_t i = 0; i < s.x.size() && i < s.y.size() && i < s.y_base.size(); ++i) {
    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || !std::isfinite(s.y_base[i])) continue;
    Pt u{f.px(s.x[i]), f.py(s.y[i])}, l{u.x, f.py(s.y_base[i])};
    if (!upper.empty() && std::lround(upper.back().x) == std::lround(u.x)) {
      upper.back().y = std::min(upper.back().y, u.y);
      lower.back().y = std::max(lower.back().y, l.y);
    } else {
      upper.push_back(u);
      lower.push_back(l);
    }
  }
  if (upper.size() < 2) return;
  std::vector<Pt> outline = upper;
  outline.insert(outline.end(), lower.rbegin(), lower.rend());
  out += fmt::format(R"(<polygon class="band" data-points="{}" points="{}" fill="{}" fill-opacity="0.18" stroke="none"/>)",
                     upper.size(), points_text(outline), s.color);
}

void legend(std::string& out, const ChartSpec& spec, const Frame& f) {
  double x = kLeft;
  out += R"(<g class="legend" font-size="11">)";
  for (const auto& s : spec.series) {
    if (s.band)
      out += fmt::format(R"(<rect x="{:.0f}" y="12" width="16" height="9" fill="{}" fill-opacity="0.3"/>)", x, s.color);
    else
      out += fmt::format(R"(<line x1="{0:.0f}" y1="17" x2="{1:.0f}" y2="17" stroke="{2}" stroke-width="2"{3}/>)", x, x + 16,
                         s.color, s.dashed ? R"( stroke-dasharray="5,3")" : "");
    out += fmt::format(R"(<text x="{:.0f}" y="21">{}</text>)", x + 20, html_escape(s.label));
    x += 32 + 6.2 * static_cast<double>(s.label.size());
  }
  if (!spec.markers.empty())
    out += fmt::format(R"(<line x1="{0:.0f}" y1="12" x2="{0:.0f}" y2="22" stroke="#888" stroke-dasharray="3,3"/><text x="{1:.0f}" y="21">{2}</text>)",
                       x, x + 5, html_escape(spec.marker_label));
  if (!spec.alerts.empty())
    out += fmt::format(R"(<rect x="{:.0f}" y="12" width="16" height="9" fill="#d62728" fill-opacity="0.15"/><text x="{:.0f}" y="21">{}</text>)",
                       x + 32 + 6.2 * static_cast<double>(spec.marker_label.size()), x + 52 + 6.2 * static_cast<double>(spec.marker_label.size()),
                       html_escape(spec.alert_label));
  out += "</g>";
}

}  // namespace

std::string render_chart(const ChartSpec& spec) {
  Frame f = frame_for(spec);
  std::string out = fmt::format(
      R"(<figure class="chart" id="{}"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}">)",
      html_escape(spec.id), f.w, f.h, html_escape(spec.title));
  out += fmt::format(R"(<title>{}</title>)", html_escape(spec.title));
  axes(out, spec, f);
  for (double m : spec.markers) {
    if (m <= f.x0 || m >= f.x1) continue;
    out += fmt::format(R"(<line class="marker" x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#888" stroke-dasharray="3,3"/>)",
                       f.px(m), kTop, f.h - kBottom);
  }
  // Steering events: an orange line each, its text along it (the full text as its tooltip).
  for (const auto& [x, text] : spec.events) {
    if (x < f.x0 || x > f.x1) continue;
    out += fmt::format(R"(<g class="event"><title>{2:.1f} s: {3}</title><line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{4}" )"
                       R"(stroke="#ff7f0e" stroke-width="1.2"/><text x="{5:.1f}" y="{6}" font-size="10" fill="#b35900" )"
                       R"svg(transform="rotate(90 {5:.1f} {6})">{3}</text></g>)svg",
                       f.px(x), kTop, x, html_escape(text), f.h - kBottom, f.px(x) + 3, kTop + 4);
  }
  for (auto [from, to] : spec.alerts) {
    from = std::max(from, f.x0);
    to = std::min(to, f.x1);
    if (!(to > from)) continue;
    out += fmt::format(R"(<rect class="alert" x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="#d62728" fill-opacity="0.15"/>)",
                       f.px(from), kTop, f.px(to) - f.px(from), f.h - kBottom - kTop);
  }
  for (const auto& s : spec.series)
    if (s.band) band(out, s, f);
  for (const auto& s : spec.series) {
    if (s.band) continue;
    for (const auto& run : runs_of_points(s, f)) {
      out += fmt::format(R"(<polyline class="series" data-points="{}" points="{}" fill="none" stroke="{}" stroke-width="1.8"{}/>)",
                         run.size(), points_text(run), s.color, s.dashed ? R"( stroke-dasharray="6,3")" : "");
      if (run.size() == 1)  // a lone point would be invisible as a line
        out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)", run[0].x, run[0].y, s.color);
    }
  }
  legend(out, spec, f);
  out += fmt::format(R"(</svg><figcaption>{}</figcaption></figure>)", html_escape(spec.title));
  out += "\n";
  return out;
}

}  // namespace loadctl::report
