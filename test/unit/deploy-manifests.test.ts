/**
 * There is no container engine on the development machine, so the deployment files are checked here:
 * they parse, the topology is the one deploy/README.md describes, every role has a health check, and every
 * container command points at a role entry point that exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
}

function k8sDocuments(file: string): Record<string, any>[] {
  return parseAllDocuments(read(join('deploy/k8s', file))).map((doc) => {
    expect(doc.errors, file).toEqual([]);
    return doc.toJS() as Record<string, any>;
  });
}

/** A role's production command is `node dist/src/roles/<role>/main.js`; returns the source it is compiled from. */
const roleEntryPoint = (command: readonly string[] | undefined) => {
  const compiled = command?.find((part) => /^dist\/src\/roles\/.+\/main\.js$/.test(part));
  if (!compiled) return undefined;
  expect(command?.[0], `${command?.join(' ')}: production runs node on the build`).toBe('node');
  return compiled.replace(/^dist\//, '').replace(/\.js$/, '.ts');
};
const everyCommand = (text: string) => expect(text, 'no role runs through tsx in production').not.toMatch(/tsx/);

describe('deploy/Dockerfile and .dockerignore', () => {
  it('builds on a current LTS image whose glibc loads uWebSockets.js, and runs the build with node', () => {
    const dockerfile = read('deploy/Dockerfile');
    const images = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(images).toEqual(['node:24-trixie-slim', 'node:24-trixie-slim']);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/roles\/edge\/main\.js"\]$/m);
    everyCommand(dockerfile.replace(/^#.*$/gm, ''));
  });

  it('keeps local data, secrets, installs and builds out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const entry of ['.data/', 'node_modules/', 'dist/', '.git/', 'test-artifacts/', '.cache/']) expect(ignored).toContain(entry);
  });
});

describe('deploy/compose.yaml', () => {
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;

  it('runs a three-node NATS JetStream cluster whose nodes route to each other', () => {
    const nats = ['nats1', 'nats2', 'nats3'].map((name) => services[name]);
    for (const [i, node] of nats.entries()) {
      expect(node?.command).toEqual(expect.arrayContaining(['--js', '--cluster_name', 'rplace']));
      const routes = node?.command?.[node.command.indexOf('--routes') + 1] ?? '';
      expect(routes.split(',')).toHaveLength(2);
      expect(routes).not.toContain(`nats${i + 1}:`);
    }
  });

  it('has two edges behind a load balancer that upgrades WebSockets, the projectors, Redis and Postgres', () => {
    for (const name of ['edge1', 'edge2', 'bitmap-projector', 'history', 'redis', 'postgres', 'lb']) expect(services[name], name).toBeDefined();
    const nginx = read('deploy/nginx.conf');
    expect(nginx).toContain('server edge1:3000');
    expect(nginx).toContain('server edge2:3000');
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade/);
    // The history API (on every edge) goes through the same upstream, unbuffered for streamed timelapses.
    expect(nginx).toMatch(/location \/api\/v1\/history\/ \{[^}]*proxy_pass http:\/\/edges;[^}]*proxy_buffering off;/);
  });

  it('gives every service a health check, and every role a command that exists, the cluster URL and 3 replicas', () => {
    everyCommand(JSON.stringify(services));
    expect(['edge1', 'edge2', 'bitmap-projector', 'history'].map((name) => roleEntryPoint(services[name]?.command))).toEqual(
      ['src/roles/edge/main.ts', 'src/roles/edge/main.ts', 'src/roles/bitmap-projector/main.ts', 'src/roles/history/main.ts']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, name).toBeDefined();
      const entry = roleEntryPoint(service.command);
      if (!entry) continue;
      expect(existsSync(join(root, entry)), `${name}: ${entry}`).toBe(true);
      expect(service.environment?.NATS_URL?.split(',')).toHaveLength(3);
      expect(service.environment?.STREAM_REPLICAS).toBe('3');
    }
  });
});

describe('deploy/k8s', () => {
  const kustomization = parse(read('deploy/k8s/kustomization.yaml')) as { resources: string[] };
  const documents = kustomization.resources.flatMap((file) => k8sDocuments(file));

  it('follows the NATS chart layout: StatefulSet nats (3 pods, JetStream PVC), headless Service with routes, probes', () => {
    const statefulSet = documents.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'nats');
    expect(statefulSet?.spec.replicas).toBe(3);
    expect(statefulSet?.spec.serviceName).toBe('nats-headless');
    expect(statefulSet?.spec.podManagementPolicy).toBe('Parallel');
    expect(statefulSet?.spec.volumeClaimTemplates[0].metadata.name).toBe('nats-js');
    const container = statefulSet?.spec.template.spec.containers[0];
    expect(container.livenessProbe.httpGet.path).toBe('/healthz?js-enabled-only=true');
    expect(container.readinessProbe.httpGet.path).toBe('/healthz?js-server-only=true');
    const headless = documents.find((d) => d.kind === 'Service' && d.metadata.name === 'nats-headless');
    expect(headless?.spec.clusterIP).toBe('None');
    const config = documents.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'nats-config');
    expect(config?.data['nats.conf']).toContain('nats://nats-2.nats-headless:6222');
  });

  it('probes every container and points every role at an entry point that exists', () => {
    const workloads = documents.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet');
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(['nats', 'postgres', 'redis', 'rplace-bitmap-projector', 'rplace-edge', 'rplace-history']);
    everyCommand(JSON.stringify(workloads));
    const commandOf = (name: string) => roleEntryPoint(workloads.find((w) => w.metadata.name === name)?.spec.template.spec.containers[0].command);
    expect(['rplace-edge', 'rplace-bitmap-projector', 'rplace-history'].map(commandOf)).toEqual(['src/roles/edge/main.ts', 'src/roles/bitmap-projector/main.ts', 'src/roles/history/main.ts']);
    for (const workload of workloads) {
      for (const container of workload.spec.template.spec.containers) {
        expect(container.readinessProbe, workload.metadata.name).toBeDefined();
        expect(container.livenessProbe, workload.metadata.name).toBeDefined();
        const entry = roleEntryPoint(container.command);
        if (entry) expect(existsSync(join(root, entry)), entry).toBe(true);
      }
    }
  });
});
