/**
 * Runs the real nginx with the SHIPPED deploy/nginx.conf, changed only where a test must: its upstream
 * points at the test's edges, it listens on a free loopback port, one worker, and its pid, logs and
 * temp files live in a private directory. Everything about headers is exactly what production runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../kit/free-port.ts';
import { waitForHttpOk } from '../kit/wait-ready.ts';
import { sleep } from '../../src/app/sleep.ts';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

export interface Nginx {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The shipped config with its upstream servers, listen port, worker count and paths replaced. */
export function renderNginxConf(shipped: string, upstreams: readonly string[], port: number, dir: string): string {
  const upstream = /upstream edges \{[^}]*\}/;
  if (!upstream.test(shipped) || !/listen 80;/.test(shipped))
    throw new Error('deploy/nginx.conf no longer has the upstream/listen this helper replaces');
  return shipped
    .replace(upstream, `upstream edges {\n    least_conn;\n${upstreams.map((u) => `    server ${u};`).join('\n')}\n  }`)
    .replace('listen 80;', `listen 127.0.0.1:${port};`)
    .replace(/worker_processes [^;]+;/, 'worker_processes 1;')
    .replace(/worker_connections \d+;/, 'worker_connections 1024;')
    .replace(
      'http {',
      `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;`,
    );
}

export async function startNginx(upstreams: readonly string[]): Promise<Nginx> {
  if (NGINX === undefined) throw new Error('nginx is not installed: apt-get install nginx-light (.ci/run installs it)');
  const dir = mkdtempSync(join(tmpdir(), 'rplace-nginx-'));
  chmodSync(dir, 0o755); // workers run as an unprivileged user
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    renderNginxConf(
      readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'nginx.conf'), 'utf8'),
      upstreams,
      port,
      dir,
    ),
  );
  const child: ChildProcess = spawn(
    NGINX,
    ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${dir}/nginx.pid;`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const errorLog = () =>
    `${stderr}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`;
  await waitForHttpOk(`${url}/lb-health`, child, {
    timeoutMs: 10_000,
    intervalMs: 50,
    output: errorLog,
    what: 'nginx',
  });
  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await Promise.race([exited, sleep(5_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
