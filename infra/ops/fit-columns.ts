/**
 * Narrows a table to a terminal's width: the widest of the columns allowed to shrink loses a
 * character at a time, and cells cut short end in "…". Columns that must stay whole (instance
 * ids, which a person pastes into a console) are never cut. Pure: rows in, rows out.
 */

/** Columns are never cut narrower than this. */
export const MIN_COLUMN = 10;
/** Between two columns (shared/text-table.ts). */
const GAP = 2;

export function fitColumns(
  rows: readonly (readonly string[])[],
  maxWidth: number,
  shrinkable: readonly number[],
): string[][] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const total = () => widths.reduce((sum, w) => sum + w, 0) + GAP * Math.max(0, widths.length - 1);
  while (total() > maxWidth) {
    const candidates = shrinkable.filter((i) => (widths[i] ?? 0) > MIN_COLUMN);
    if (candidates.length === 0) break;
    const widest = candidates.reduce((a, b) => ((widths[b] ?? 0) > (widths[a] ?? 0) ? b : a));
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return rows.map((row) => row.map((cell, i) => cut(cell, widths[i] ?? cell.length)));
}

function cut(cell: string, width: number): string {
  return cell.length <= width ? cell : `${cell.slice(0, width - 1)}…`;
}
