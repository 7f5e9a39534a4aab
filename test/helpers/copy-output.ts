/** Binary COPY bytes of the dataset export's SELECT, for the parser and worker tests. */

export interface CopyRow {
  seq: number;
  kind: number;
  x: number;
  y: number;
  color: number;
  placedAt: number;
  userId: string;
}

/** Binary COPY output of the export's SELECT for these rows (the layout in placement-export.ts). */
export function copyOutput(rows: readonly CopyRow[]): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const r of rows) {
    const user = Buffer.from(r.userId, 'utf8');
    const row = Buffer.alloc(54 + user.length);
    let at = 0;
    at = row.writeInt16BE(7, at);
    at = row.writeInt32BE(8, at);
    at = row.writeBigInt64BE(BigInt(r.seq), at);
    for (const v of [r.kind, r.x, r.y, r.color]) {
      at = row.writeInt32BE(2, at);
      at = row.writeInt16BE(v, at);
    }
    at = row.writeInt32BE(user.length, at);
    at += user.copy(row, at);
    at = row.writeInt32BE(8, at);
    row.writeBigInt64BE(BigInt(r.placedAt - 946_684_800_000) * 1000n, at);
    parts.push(row);
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}
