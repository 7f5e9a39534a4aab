import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ErrorCode } from '../../proto/error-codes.ts';
import { CloseCode } from '../../proto/close-codes.ts';

const doc = readFileSync(new URL('../../proto/PROTOCOL.md', import.meta.url), 'utf8');

describe('proto/PROTOCOL.md documents every refusal', () => {
  it.each(Object.values(ErrorCode))('error code %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
  it.each(Object.values(CloseCode))('close code %s', (code) => {
    expect(doc).toMatch(new RegExp(`\\| ${code} \\|`));
  });
  it('has the Accounts and abuse section', () => {
    expect(doc).toMatch(/^## Accounts and abuse$/m);
  });
});
