/**
 * Loads a uWebSockets.js native binary for the running Node ABI and C library, from the pinned packages
 * listed in native-builds.json (tried in that order; the first that loads wins). Neither package's own entry
 * point is used: the trufflesuite one silently falls back to a slow `ws`-based implementation when its binary
 * does not load, and an edge must never run on that, so when nothing loads we refuse to start with one
 * sentence naming the Node versions and C library that work.
 *
 * Why two packages: uNetworking publishes uWebSockets.js on GitHub only. `@trufflesuite/uws-js-unofficial`
 * (a republish of v20.30.0) stops at ABI 115 (Node 20) but needs only glibc 2.27; `@btc-vision/uwebsockets.js`
 * (a republish of v20.57.0) carries ABI 115/127/137/141 (Node 20/22/24/25) built against glibc 2.38.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Uws from '@trufflesuite/uws-js-unofficial';
import builds from './native-builds.json' with { type: 'json' };

export type UwsModule = typeof Uws;

export class UwsUnavailable extends Error {
  override readonly name = 'UwsUnavailable';
}

export interface NativeBuild {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly nodeByAbi: Readonly<Record<string, number>>;
  readonly platforms: readonly string[];
  readonly glibc: string;
}

export interface Runtime {
  readonly node: string;
  readonly abi: string;
  readonly platform: string;
  readonly arch: string;
  /** glibc version at run time; undefined on musl or a non-Linux platform. */
  readonly glibc: string | undefined;
}

export interface LoadedUws {
  readonly uws: UwsModule;
  readonly packageName: string;
  readonly path: string;
}

export const nativeBuilds = builds.packages as readonly NativeBuild[];

export function currentRuntime(): Runtime {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return {
    node: process.version,
    abi: process.versions.modules,
    platform: process.platform,
    arch: process.arch,
    glibc: header?.glibcVersionRuntime,
  };
}

const versionAtLeast = (have: string, want: string) => {
  const [a = 0, b = 0] = have.split('.').map(Number);
  const [c = 0, d = 0] = want.split('.').map(Number);
  return a > c || (a === c && b >= d);
};

/** The packages whose binary fits this runtime on paper (ABI, platform, glibc), in preference order. */
export function candidatesFor(runtime: Runtime, from: readonly NativeBuild[] = nativeBuilds): NativeBuild[] {
  return from.filter(
    (b) =>
      b.nodeByAbi[runtime.abi] !== undefined &&
      b.platforms.includes(`${runtime.platform}-${runtime.arch}`) &&
      (runtime.platform !== 'linux' || (runtime.glibc !== undefined && versionAtLeast(runtime.glibc, b.glibc))),
  );
}

/** The one sentence for a runtime no pinned build serves: what runs, and what this machine is. */
export function unsupportedRuntimeMessage(runtime: Runtime, from: readonly NativeBuild[] = nativeBuilds): string {
  const offers = from.map(
    (b) => `Node ${[...new Set(Object.values(b.nodeByAbi))].join('/')} with glibc ≥ ${b.glibc} (${b.name})`,
  );
  const libc =
    runtime.platform !== 'linux'
      ? runtime.platform
      : runtime.glibc
        ? `glibc ${runtime.glibc}`
        : 'a non-glibc C library (musl?)';
  return (
    `uWebSockets.js has no native build for Node ${runtime.node} (ABI ${runtime.abi}) on ${runtime.platform}/${runtime.arch} with ${libc}; ` +
    `the builds we ship run ${offers.join(' or ')}, on linux x64/arm64, macOS or Windows x64 — e.g. Node 20 on Debian 12, or Node 22/24/25 on Debian 13, Ubuntu 24.04 or RHEL 10`
  );
}

function packageRoot(require: NodeJS.Require, name: string): string | undefined {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return undefined; // not installed (e.g. a platform where npm skipped it)
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name)
      return dir;
  }
  return undefined;
}

let loaded: LoadedUws | undefined;

/** Loads (once) and describes the native build in use. Throws UwsUnavailable with one sentence otherwise. */
export function loadUwsBuild(): LoadedUws {
  if (loaded) return loaded;
  const runtime = currentRuntime();
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const build of candidatesFor(runtime)) {
    const root = packageRoot(require, build.name);
    if (!root) {
      failures.push(`${build.name} is not installed`);
      continue;
    }
    const path = join(root, build.dir, `uws_${runtime.platform}_${runtime.arch}_${runtime.abi}.node`);
    try {
      const uws = require(path) as UwsModule;
      if (typeof uws.App !== 'function') throw new Error('the binary does not export App');
      loaded = { uws, packageName: `${build.name}@${build.version}`, path };
      return loaded;
    } catch (cause) {
      failures.push(`${path}: ${(cause as Error).message.split('\n')[0]}`);
    }
  }
  throw new UwsUnavailable(
    unsupportedRuntimeMessage(runtime) + (failures.length > 0 ? ` (tried ${failures.join('; ')})` : ''),
  );
}

export function loadUws(): UwsModule {
  return loadUwsBuild().uws;
}
