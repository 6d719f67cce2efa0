// SPDX-License-Identifier: MIT
// Plain-text tables for mcrctl's human output: a header row, left-aligned columns, two spaces apart.

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const render = (cells: string[]): string =>
    widths
      .map((width, column) => (cells[column] ?? '').padEnd(width))
      .join('  ')
      .trimEnd();
  return [render(header), ...rows.map(render)].join('\n');
}

/** Thousands separators, for tables only: --json output always carries plain numbers. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
