// Hand-drawn SVG charts: the UI needs only sparklines and one small line chart, so a chart
// library would cost more bytes than it saves.

import { formatDuration, formatRate } from "@/lib/format";

function points(values: number[], width: number, height: number, max: number, slots: number): string {
  const step = slots > 1 ? width / (slots - 1) : width;
  const offset = slots - values.length;
  return values
    .map((v, i) => `${((offset + i) * step).toFixed(1)},${(height - (v / max) * height).toFixed(1)}`)
    .join(" ");
}

export function Sparkline({
  values,
  color,
  label,
  width = 120,
  height = 28,
}: {
  values: number[];
  color: string;
  label: string;
  width?: number;
  height?: number;
}) {
  const max = Math.max(...values, 0.001);
  const line = values.length > 1 ? points(values, width, height - 2, max, values.length) : "";
  return (
    <svg role="img" aria-label={label} width={width} height={height} viewBox={`0 0 ${width} ${height}`} className="overflow-visible">
      <title>{label}</title>
      <line x1={0} x2={width} y1={height - 1} y2={height - 1} stroke="#e2e8f0" />
      {line && (
        <>
          <polygon points={`0,${height - 1} ${line} ${width},${height - 1}`} fill={color} fillOpacity={0.12} />
          <polyline points={line} fill="none" stroke={color} strokeWidth={1.5} strokeLinejoin="round" />
        </>
      )}
    </svg>
  );
}

export interface ChartSeries {
  name: string;
  color: string;
  values: number[];
}

const CHART_W = 640;
const CHART_H = 160;

/** Rates per poll, oldest first. The x axis spans what has been sampled, at least `minSlots`. */
export function ThroughputChart({ series, intervalMs, minSlots = 30 }: { series: ChartSeries[]; intervalMs: number; minSlots?: number }) {
  const max = Math.max(...series.flatMap((s) => s.values), 0.001);
  const slots = Math.max(minSlots, ...series.map((s) => s.values.length));
  const enough = series.some((s) => s.values.length > 1);
  return (
    <div>
      <div className="mb-2 flex flex-wrap gap-4 text-xs text-slate-600">
        {series.map((s) => (
          <span key={s.name} className="inline-flex items-center gap-1.5">
            <span className="h-2 w-2 rounded-full" style={{ background: s.color }} />
            {s.name} <span className="tabular-nums text-slate-900">{formatRate(s.values.at(-1) ?? 0)}</span>
          </span>
        ))}
      </div>
      <svg role="img" aria-label="Throughput chart" viewBox={`0 0 ${CHART_W} ${CHART_H + 16}`} className="h-44 w-full" preserveAspectRatio="none">
        {[0, 0.5, 1].map((f) => (
          <line key={f} x1={0} x2={CHART_W} y1={CHART_H * f} y2={CHART_H * f} stroke="#e2e8f0" strokeDasharray={f === 1 ? undefined : "4 4"} />
        ))}
        {enough &&
          series.map((s) => (
            <polyline key={s.name} points={points(s.values, CHART_W, CHART_H, max, slots)} fill="none" stroke={s.color} strokeWidth={2} vectorEffect="non-scaling-stroke" strokeLinejoin="round" />
          ))}
      </svg>
      <div className="flex justify-between text-xs text-slate-400">
        <span>{enough ? `peak ${formatRate(max)}` : "Collecting samples…"}</span>
        <span>last {formatDuration(slots * intervalMs)} · now</span>
      </div>
    </div>
  );
}
