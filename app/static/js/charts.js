// Small inline-SVG bar charts: one group of bars per persona, one bar per series.
// Each bar carries data-group, data-series and data-value, so what it shows can be read back.

import { el, LANG, svg } from './common.js';

const WIDTH = 360;
const HEIGHT = 200;
const TOP = 24;
const BOTTOM = 28;
const SIDE = 12;

/**
 * @param {string} title
 * @param {{key: string, label: string}[]} groups  the x axis (personas), in reading order
 * @param {{key: string, label: string, values: Object<string, number|null>}[]} series
 * @param {(value: number) => string} format
 */
export function barChart({ id, title, groups, series, format }) {
  const values = series.flatMap((s) => groups.map((g) => s.values[g.key] ?? 0));
  const max = Math.max(1e-9, ...values);
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const groupWidth = (WIDTH - 2 * SIDE) / groups.length;
  const barWidth = Math.min(48, (groupWidth * 0.7) / series.length);
  const rtl = LANG === 'ar';

  const shapes = [];
  groups.forEach((group, groupIndex) => {
    // Right to left for Arabic: the first persona stands at the right, like the text.
    const slot = rtl ? groups.length - 1 - groupIndex : groupIndex;
    const center = SIDE + groupWidth * (slot + 0.5);
    series.forEach((s, seriesIndex) => {
      const raw = s.values[group.key];
      const value = raw ?? 0;
      const height = Math.round((value / max) * plotHeight);
      const order = rtl ? series.length - 1 - seriesIndex : seriesIndex;
      const x = center - (barWidth * series.length) / 2 + barWidth * order;
      const y = TOP + plotHeight - height;
      shapes.push(
        svg(
          'rect',
          {
            class: `bar series-${seriesIndex}`,
            x: x + 2,
            y,
            width: barWidth - 4,
            height: Math.max(height, 1),
            'data-group': group.key,
            'data-series': s.key,
            'data-value': raw ?? '',
          },
          svg('title', {}, `${group.label}: ${s.label} ${raw == null ? '—' : format(value)}`),
        ),
        svg(
          'text',
          { x: x + barWidth / 2, y: y - 6, 'text-anchor': 'middle', class: 'bar-value' },
          raw == null ? '—' : format(value),
        ),
      );
    });
    shapes.push(
      svg('text', { x: center, y: HEIGHT - 8, 'text-anchor': 'middle', class: 'bar-label' }, group.label),
    );
  });
  shapes.push(
    svg('line', {
      x1: SIDE,
      x2: WIDTH - SIDE,
      y1: TOP + plotHeight + 0.5,
      y2: TOP + plotHeight + 0.5,
      stroke: '#9aa3b2',
    }),
  );

  const legend =
    series.length > 1
      ? el(
          'div',
          { class: 'legend' },
          series.map((s, index) =>
            el('span', {}, el('span', { class: `swatch series-${index}` }), s.label),
          ),
        )
      : null;
  return el(
    'figure',
    { class: 'chart card', id },
    el('figcaption', {}, title),
    svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': title }, shapes),
    legend,
  );
}
