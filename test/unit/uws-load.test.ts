/**
 * The uWebSockets.js loader's choice of native build, per runtime (ABI, platform, glibc), and the one
 * sentence for a runtime nothing serves. The binary this machine loads is checked for real at the end.
 */
import { describe, expect, it } from 'vitest';
import {
  candidatesFor,
  currentRuntime,
  loadUwsBuild,
  unsupportedRuntimeMessage,
  type Runtime,
} from '../../src/adapters/uws/load.ts';

const linux = (node: string, abi: string, glibc: string | undefined): Runtime => ({
  node,
  abi,
  platform: 'linux',
  arch: 'x64',
  glibc,
});
const names = (runtime: Runtime) => candidatesFor(runtime).map((b) => b.name);

describe('uWebSockets.js native build choice', () => {
  it('Node 20 on glibc 2.36 (Debian 12) gets only the trufflesuite build; on glibc 2.41 both, btc-vision first', () => {
    expect(names(linux('v20.20.2', '115', '2.36'))).toEqual(['@trufflesuite/uws-js-unofficial']);
    expect(names(linux('v20.20.2', '115', '2.41'))).toEqual([
      '@btc-vision/uwebsockets.js',
      '@trufflesuite/uws-js-unofficial',
    ]);
  });

  it('Node 22, 24 and 25 need glibc ≥ 2.38', () => {
    for (const abi of ['127', '137', '141']) {
      expect(names(linux('v', abi, '2.38'))).toEqual(['@btc-vision/uwebsockets.js']);
      expect(names(linux('v', abi, '2.37'))).toEqual([]);
    }
  });

  it('nothing for musl, an unknown ABI, or an unlisted platform; macOS needs no glibc', () => {
    expect(names(linux('v22.12.0', '127', undefined))).toEqual([]);
    expect(names(linux('v26.0.0', '147', '2.41'))).toEqual([]);
    expect(names({ ...linux('v20.20.2', '115', '2.41'), arch: 'ia32' })).toEqual([]);
    expect(names({ node: 'v24.0.0', abi: '137', platform: 'darwin', arch: 'arm64', glibc: undefined })).toEqual([
      '@btc-vision/uwebsockets.js',
    ]);
  });

  it('says in one sentence what this runtime is and which Node versions and C library work', () => {
    const message = unsupportedRuntimeMessage(linux('v22.23.0', '127', '2.36'));
    expect(message).not.toContain('\n');
    expect(message).toContain('Node v22.23.0 (ABI 127) on linux/x64 with glibc 2.36');
    expect(message).toContain('Node 20/22/24/25 with glibc ≥ 2.38');
    expect(message).toContain('Node 20 with glibc ≥ 2.27');
    expect(unsupportedRuntimeMessage(linux('v22.12.0', '127', undefined))).toContain('a non-glibc C library (musl?)');
  });

  it('loads a real binary here, one the choice allows', () => {
    const loaded = loadUwsBuild();
    expect(typeof loaded.uws.App).toBe('function');
    expect(candidatesFor(currentRuntime()).map((b) => `${b.name}@${b.version}`)).toContain(loaded.packageName);
  });
});
