/**
 * A golden vector of Postgres's binary COPY format, written by hand from the manual ("COPY", "Binary Format")
 * and checked against the real server in test/integration/history-snapshot-format.test.ts.
 */
export const GOLDEN_COPY_QUERY = `SELECT 1::int8, NULL::bytea, '\\x0102ff'::bytea, 'hé'::text, (-7)::int4`;

export const GOLDEN_COPY_BYTES = Buffer.from(
  [
    // signature "PGCOPY\n\377\r\n\0", flags 0, header extension length 0
    '50 47 43 4f 50 59 0a ff 0d 0a 00',
    '00 00 00 00',
    '00 00 00 00',
    // one tuple of 5 fields
    '00 05',
    '00 00 00 08',
    '00 00 00 00 00 00 00 01', // int8 1
    'ff ff ff ff', //                             NULL
    '00 00 00 03',
    '01 02 ff', //                  bytea
    '00 00 00 03',
    '68 c3 a9', //                  text "hé" in UTF-8
    '00 00 00 04',
    'ff ff ff f9', //               int4 −7
    // trailer
    'ff ff',
  ]
    .join(' ')
    .replace(/ /g, ''),
  'hex',
);
