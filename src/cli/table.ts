// SPDX-License-Identifier: MIT
// Plain-text tables for mcrctl's and the bench's human output: a header row, columns two spaces
// apart (left-aligned, or right-aligned for the columns `rightAligned` names), and number formats.

export function formatTable(header: string[], rows: string[][], rightAligned: (column: number) => boolean = () => false): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const render = (cells: string[]): string =>
    widths
      .map((width, column) => (rightAligned(column) ? (cells[column] ?? '').padStart(width) : (cells[column] ?? '').padEnd(width)))
      .join('  ')
      .trimEnd();
  return [render(header), ...rows.map(render)].join('\n');
}

/** Thousands separators, for tables only: --json output always carries plain numbers. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Compact numbers for rates and counts in summaries and charts: 1234 -> "1.23k", 1500000 -> "1.5M", 630000 -> "630k". */
export function formatCompact(value: number): string {
  const a = Math.abs(value);
  const trim = (x: number): string => String(Number(x.toFixed(Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2)));
  if (a >= 1e9) return `${trim(value / 1e9)}G`;
  if (a >= 1e6) return `${trim(value / 1e6)}M`;
  if (a >= 1e3) return `${trim(value / 1e3)}k`;
  if (a >= 1 || a === 0) return trim(value);
  return String(Number(value.toPrecision(2)));
}

/** `1 rule`, `3 rules`: a count with its noun. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
