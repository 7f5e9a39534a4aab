/**
 * There is no container engine on the development machine, so the deployment files are checked here:
 * they parse, the topology is the one deploy/README.md describes, every role has a health check, and every
 * container command points at a role entry point that exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { deploymentAuthorization } from '../../deploy/nats/generate.ts';
import { namesFor } from '../../src/config/names.ts';
import { natsPasswordEnv, natsUserOf, NATS_ROLES, type NatsRole } from '../../streams/permissions.ts';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ComposeService {
  command?: string[];
  restart?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
}

function k8sDocuments(file: string): Record<string, any>[] {
  return parseAllDocuments(read(join('deploy/k8s', file))).map((doc) => {
    expect(doc.errors, file).toEqual([]);
    return doc.toJS() as Record<string, any>;
  });
}

const roleEntryPoint = (command: readonly string[] | undefined) => command?.find((part) => /^src\/roles\/.+\/main\.ts$/.test(part));

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
  });

  it('gives every service a health check, and every role a command that exists, the cluster URL and 3 replicas', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.restart !== 'no') expect(service.healthcheck?.test, name).toBeDefined(); // one-shot jobs have none
      const entry = roleEntryPoint(service.command);
      if (!entry) continue;
      expect(existsSync(join(root, entry)), `${name}: ${entry}`).toBe(true);
      expect(service.environment?.NATS_URL?.split(',')).toHaveLength(3);
      expect(service.environment?.STREAM_REPLICAS).toBe('3');
    }
  });
});

describe('NATS authentication in deploy/ (generated from streams/permissions.ts)', () => {
  const generated = deploymentAuthorization('main');
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };

  it('ships the generated authorization, in deploy/nats/auth.conf and in the k8s NATS ConfigMap', () => {
    expect(read('deploy/nats/auth.conf')).toBe(generated);
    const config = k8sDocuments('nats.yaml').find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'nats-config');
    expect(config?.data['auth.conf']).toBe(generated);
    expect(config?.data['nats.conf']).toContain('include ./auth.conf');
    for (const role of NATS_ROLES) expect(generated).toContain(`$${natsPasswordEnv(role)}`);
    expect(generated).not.toMatch(/no_auth_user/);
  });

  it('gives every compose role its own NATS user and the NATS nodes the generated file', () => {
    for (const name of ['nats1', 'nats2', 'nats3']) {
      expect(compose.services[name]?.command?.slice(0, 2)).toEqual(['-c', '/etc/nats/auth.conf']);
      expect(compose.services[name]?.volumes).toContain('./nats/auth.conf:/etc/nats/auth.conf:ro');
    }
    const users: Record<string, string> = { edge1: 'edge', edge2: 'edge', 'bitmap-projector': 'bitmap-projector', history: 'history', 'streams-apply': 'operator' };
    for (const [service, role] of Object.entries(users)) {
      expect(compose.services[service]?.environment?.NATS_USER, service).toBe(natsUserOf(role as NatsRole, namesFor('main')));
      expect(compose.services[service]?.environment?.NATS_PASSWORD, service).toMatch(new RegExp(`^\\$\\{${natsPasswordEnv(role as NatsRole)}:\\?`));
    }
  });

  it('gives every k8s role pod its own NATS user, with its password from the rplace-nats-auth Secret', () => {
    const documents = ['edge.yaml', 'projectors.yaml'].flatMap((file) => k8sDocuments(file));
    const roles: Record<string, NatsRole> = { 'rplace-edge': 'edge', 'rplace-bitmap-projector': 'bitmap-projector', 'rplace-history': 'history', 'rplace-streams-apply': 'operator' };
    for (const [workload, role] of Object.entries(roles)) {
      const container = documents.find((d) => d.metadata.name === workload)?.spec.template.spec.containers[0];
      const env = Object.fromEntries((container?.env ?? []).map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]));
      expect(env.NATS_USER, workload).toBe(natsUserOf(role, namesFor('main')));
      expect(env.NATS_PASSWORD, workload).toEqual({ secretKeyRef: { name: 'rplace-nats-auth', key: role } });
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
