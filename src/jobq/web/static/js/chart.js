// Stacked bars of finished jobs per bucket, drawn as inline SVG at the container's own width
// (so its text stays readable on a phone), with labelled axes: jobs per bucket up the side,
// local time along the bottom.
"use strict";

const NS = "http://www.w3.org/2000/svg";
const KINDS = [["ok", "succeeded"], ["bad", "failed"], ["off", "cancelled"]];

function svg(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// a round step for about `count` ticks up to `peak`: 1, 2, 5, 10, 20, 50, ...
function niceStep(peak, count) {
  const raw = Math.max(1, peak / count);
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

const pad = (n) => String(n).padStart(2, "0");
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

// where the time labels go: every 10 min over an hour, 3 h over a day, a day over a week
function timeTicks(since, buckets, bucketSeconds) {
  const span = buckets * bucketSeconds;
  const step = span <= 3600 ? 600 : span <= 86400 ? 3 * 3600 : 86400;
  const ticks = [];
  const midnight = new Date(since * 1000);
  midnight.setHours(0, 0, 0, 0);
  let first = midnight.getTime() / 1000;
  while (first < since) first += step;
  for (let t = first; t <= since + span; t += step) {
    const d = new Date(t * 1000);
    const text = step === 86400 ? `${DAYS[d.getDay()]} ${d.getDate()}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    ticks.push({ at: (t - since) / bucketSeconds, text });
  }
  return ticks;
}

export function bucketName(bucketSeconds) {
  if (bucketSeconds === 60) return "minute";
  if (bucketSeconds === 3600) return "hour";
  return `${Math.round(bucketSeconds / 60)} min`;
}

export function barChart(series, { buckets, bucketSeconds, since, width }) {
  const height = 220, left = 52, right = 10, top = 10, bottom = 40;
  const totals = series.ok.map((n, i) => n + series.bad[i] + series.off[i]);
  const step = niceStep(Math.max(...totals, 1), 4);
  const peak = Math.ceil(Math.max(...totals, 1) / step) * step;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "bars" });
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const barWidth = plotWidth / buckets, scale = plotHeight / peak;
  for (let y = 0; y <= peak; y += step) {
    const at = top + plotHeight - y * scale;
    root.append(svg("line", { x1: left, x2: width - right, y1: at, y2: at, class: y ? "grid" : "axis" }));
    root.append(svg("text", { x: left - 6, y: at + 4, "text-anchor": "end", class: "tick y-tick" }, String(y)));
  }
  for (let i = 0; i < buckets; i++) {
    let y = top + plotHeight;
    for (const [kind, name] of KINDS) {
      const h = series[kind][i] * scale;
      if (h <= 0) continue;
      const bar = svg("rect", { x: left + i * barWidth + 0.5, y: y - h, width: Math.max(1, barWidth - 1), height: h, class: kind });
      bar.append(svg("title", {}, `${series[kind][i]} ${name}`));
      root.append(bar);
      y -= h;
    }
  }
  for (const tick of timeTicks(since, buckets, bucketSeconds)) {
    const x = left + tick.at * barWidth;
    root.append(svg("line", { x1: x, x2: x, y1: top + plotHeight, y2: top + plotHeight + 4, class: "axis" }));
    root.append(svg("text", { x, y: top + plotHeight + 16, "text-anchor": "middle", class: "tick x-tick" }, tick.text));
  }
  root.append(svg("text", { x: left + plotWidth / 2, y: height - 4, "text-anchor": "middle", class: "axis-label" }, "time (local)"));
  root.append(svg("text", {
    x: 12, y: top + plotHeight / 2, "text-anchor": "middle", class: "axis-label",
    transform: `rotate(-90 12 ${top + plotHeight / 2})`,
  }, `jobs per ${bucketName(bucketSeconds)}`));
  return root;
}
