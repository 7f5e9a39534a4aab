/**
 * Loads the uWebSockets.js native binary directly from the package's `binaries/` folder, by platform,
 * architecture and Node ABI. The package's own entry point silently falls back to a slow `ws`-based
 * implementation when the binary does not load; an edge must never run on that, so we refuse to start.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Uws from '@trufflesuite/uws-js-unofficial';

export type UwsModule = typeof Uws;

export class UwsUnavailable extends Error {
  override readonly name = 'UwsUnavailable';
}

const PACKAGE = '@trufflesuite/uws-js-unofficial';
let loaded: UwsModule | undefined;

export function loadUws(): UwsModule {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  let path = binary;
  try {
    path = join(dirname(require.resolve(`${PACKAGE}/package.json`)), 'binaries', binary);
    const uws = require(path) as UwsModule;
    if (typeof uws.App !== 'function') throw new Error('the binary does not export App');
    loaded = uws;
    return uws;
  } catch (cause) {
    throw new UwsUnavailable(
      `cannot load the uWebSockets.js native binary ${path} (Node ${process.version}, ABI ${process.versions.modules}, ` +
        `${process.platform}/${process.arch}): ${(cause as Error).message}. The edge does not run on the package's ws fallback; ` +
        `use a Node version whose ABI has a binary in ${PACKAGE}/binaries.`,
      { cause },
    );
  }
}
