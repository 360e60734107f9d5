/** Small self-contained SVG charts for run reports (no browser or canvas needed). */

const W = 640,
  H = 320,
  M = { left: 64, right: 16, top: 36, bottom: 48 };
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function frame(
  title: string,
  xLabel: string,
  yLabel: string,
  body: string,
  xTicks: [number, string][],
  yTicks: [number, string][],
): string {
  const ticks = [
    ...xTicks.map(
      ([x, t]) =>
        `<line x1="${x}" y1="${H - M.bottom}" x2="${x}" y2="${H - M.bottom + 4}" stroke="#555"/>` +
        `<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle">${escape(t)}</text>`,
    ),
    ...yTicks.map(
      ([y, t]) =>
        `<line x1="${M.left - 4}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#eee"/>` +
        `<text x="${M.left - 8}" y="${y + 4}" text-anchor="end">${escape(t)}</text>`,
    ),
  ].join('');
  const svgOpen =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    'font-family="sans-serif" font-size="11" fill="#222">';
  return `${svgOpen}
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escape(title)}</text>
${ticks}${body}
<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#555"/>
<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#555"/>
<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${escape(xLabel)}</text>
<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>
</svg>
`;
}

function niceTicks(max: number, count = 5): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const step = [1, 2, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw)!;
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}

/** A histogram: bins `[edges[i], edges[i+1])` with `counts[i]`. */
export function histogramSvg(
  title: string,
  edges: number[],
  counts: number[],
  xLabel: string,
  yLabel = 'count',
): string {
  const plotW = W - M.left - M.right,
    plotH = H - M.top - M.bottom;
  const maxCount = Math.max(1, ...counts);
  const yMax = niceTicks(maxCount).at(-1)! < maxCount ? maxCount : niceTicks(maxCount).at(-1)!;
  const bw = plotW / counts.length;
  const bars = counts
    .map((c, i) => {
      const h = (c / yMax) * plotH;
      return (
        `<rect x="${(M.left + i * bw + 1).toFixed(1)}" y="${(H - M.bottom - h).toFixed(1)}" ` +
        `width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#4c78a8">` +
        `<title>[${edges[i]}, ${edges[i + 1]}): ${c}</title></rect>`
      );
    })
    .join('');
  const every = Math.ceil(edges.length / 8);
  const xTicks = edges
    .filter((_, i) => i % every === 0)
    .map((e, k) => [M.left + k * every * bw, String(e)] as [number, string]);
  const yTicks = niceTicks(yMax).map((v) => [H - M.bottom - (v / yMax) * plotH, String(v)] as [number, string]);
  return frame(title, xLabel, yLabel, bars, xTicks, yTicks);
}

/** Lines over a shared x axis (loss curves): each series is a list of [x, y]. */
export function lineChartSvg(
  title: string,
  series: { name: string; points: [number, number][] }[],
  xLabel: string,
  yLabel: string,
): string {
  const plotW = W - M.left - M.right,
    plotH = H - M.top - M.bottom;
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMax = Math.max(1e-9, ...all.map((p) => p[1]));
  const yTop = niceTicks(yMax).at(-1)! < yMax ? yMax : niceTicks(yMax).at(-1)!;
  const colors = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2'];
  const X = (x: number) => M.left + (x / xMax) * plotW;
  const Y = (y: number) => H - M.bottom - (y / yTop) * plotH;
  const body = series
    .map((s, i) => {
      const d = s.points.map(([x, y], k) => `${k ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join('');
      return (
        `<path d="${d}" fill="none" stroke="${colors[i % colors.length]}" stroke-width="1.5"/>` +
        `<text x="${W - M.right - 4}" y="${M.top + 14 * (i + 1)}" text-anchor="end" ` +
        `fill="${colors[i % colors.length]}">${escape(s.name)}</text>`
      );
    })
    .join('');
  return frame(
    title,
    xLabel,
    yLabel,
    body,
    niceTicks(xMax).map((v) => [X(v), String(v)]),
    niceTicks(yTop).map((v) => [Y(v), String(v)]),
  );
}
