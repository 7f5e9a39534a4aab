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
import { namesFor } from '../../src/domain/names.ts';
import { natsPasswordEnv, natsUserOf, NATS_ROLES, type NatsRole } from '../../streams/permissions.ts';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ComposeService {
  image?: string;
  command?: string[];
  restart?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  ports?: string[];
  networks?: Record<string, { ipv4_address?: string }>;
}

/**
 * An image pinned to a full version (`name:1.2.3`, `name:1.2.3-alpine`; Postgres numbers releases `15.7`),
 * never `latest` or a floating `7-alpine` / `2.10-alpine`.
 */
const PINNED = /^(?:[a-z0-9./-]+:\d+\.\d+\.\d+|postgres:\d+\.\d+)(-[a-z0-9]+)?$/;

/** A parsed Kubernetes manifest, walked by path: a path that is not there fails the test that reads it. */
// biome-ignore lint/suspicious/noExplicitAny: the manifests' YAML has no schema here; typing every path would only restate them.
type K8sNode = Record<string, any>;

function k8sDocuments(file: string): K8sNode[] {
  return parseAllDocuments(read(join('deploy/k8s', file))).map((doc) => {
    expect(doc.errors, file).toEqual([]);
    return doc.toJS() as K8sNode;
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
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['.data/', 'node_modules/', 'dist/', '.git/', 'test-artifacts/', '.cache/'])
      expect(ignored).toContain(entry);
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
    for (const name of ['edge1', 'edge2', 'bitmap-projector', 'history', 'redis', 'postgres', 'lb'])
      expect(services[name], name).toBeDefined();
    const nginx = read('deploy/nginx.conf');
    expect(nginx).toContain('server edge1:3000');
    expect(nginx).toContain('server edge2:3000');
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade/);
    // The history API (on every edge) goes through the same upstream, unbuffered for streamed timelapses.
    expect(nginx).toMatch(/location \/api\/v1\/history\/ \{[^}]*proxy_pass http:\/\/edges;[^}]*proxy_buffering off;/);
  });

  it('gives every service a health check, and every role a command that exists, the cluster URL and 3 replicas', () => {
    everyCommand(JSON.stringify(services));
    expect(
      ['edge1', 'edge2', 'bitmap-projector', 'history'].map((name) => roleEntryPoint(services[name]?.command)),
    ).toEqual([
      'src/roles/edge/main.ts',
      'src/roles/edge/main.ts',
      'src/roles/bitmap-projector/main.ts',
      'src/roles/history/main.ts',
    ]);
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

describe('deploy/compose.yaml hardening', () => {
  const services = (parse(read('deploy/compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> })
    .services;
  const roles = Object.entries(services).filter(([, s]) => roleEntryPoint(s.command));

  it('pins every image to a full version', () => {
    for (const [name, service] of Object.entries(services)) expect(service.image, name).toMatch(PINNED);
  });

  it('requires every password from the environment: none in the file, no trust', () => {
    const postgres = services['postgres']!;
    expect(postgres.environment?.['POSTGRES_PASSWORD']).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(postgres.environment?.['RPLACE_DB_PASSWORD']).toMatch(/^\$\{RPLACE_DB_PASSWORD:\?/);
    expect(postgres.environment?.['POSTGRES_HOST_AUTH_METHOD']).toBe('scram-sha-256');
    const redis = services['redis']!;
    expect(redis.command).toEqual(
      expect.arrayContaining(['--requirepass', '${REDIS_PASSWORD}', '--appendonly', 'yes']),
    );
    expect(redis.environment?.['REDIS_PASSWORD']).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    for (const [name, service] of roles) {
      expect(service.environment?.['REDIS_URL'], name).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379$/);
      expect(service.environment?.['DATABASE_URL'], name).toMatch(
        /^postgres:\/\/rplace:\$\{RPLACE_DB_PASSWORD:\?[^}]*\}@postgres:5432\/rplace$/,
      );
    }
    expect(read('deploy/compose.yaml')).not.toMatch(/(PASSWORD|SECRET): [^$\s]|AUTH_METHOD: trust/);
  });

  it('runs the roles as a non-root user on a read-only root without capabilities; every service without new privileges', () => {
    for (const [name, service] of roles) {
      expect(service.user, name).toBe('1000:1000');
      expect(service.read_only, name).toBe(true);
      expect(service.cap_drop, name).toEqual(['ALL']);
      expect(service.cap_add, name).toBeUndefined();
    }
    for (const [name, service] of Object.entries(services)) {
      expect(service.security_opt, name).toContain('no-new-privileges:true');
      expect(service.cap_drop, name).toEqual(['ALL']);
      expect(service.read_only, name).toBe(true);
    }
  });

  it("edges trust only nginx's fixed address for the client address; metrics are internal; nginx overwrites the headers", () => {
    const lbAddress = services['lb']?.networks?.['default']?.ipv4_address;
    expect(lbAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const name of ['edge1', 'edge2']) {
      const edge = services[name]!;
      expect(edge.environment?.['TRUSTED_PROXIES'], name).toBe(lbAddress);
      expect(edge.environment?.['CLIENT_ADDRESS_HEADER'], name).toBe('X-Real-IP');
      expect(edge.environment?.['METRICS_PORT'], name).toBe('9100');
      expect(edge.ports, name).toBeUndefined();
    }
    expect(services['lb']?.ports).toEqual(['8080:80']);
    const nginx = read('deploy/nginx.conf');
    expect(nginx).toMatch(/proxy_set_header X-Real-IP \$remote_addr;/);
    expect(nginx).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
    expect(nginx).not.toMatch(/^\s*proxy_set_header[^\n]*\$proxy_add_x_forwarded_for/m);
    expect(nginx).toMatch(/location = \/metrics \{ return 404; \}/);
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
    const users: Record<string, string> = {
      edge1: 'edge',
      edge2: 'edge',
      'bitmap-projector': 'bitmap-projector',
      history: 'history',
      'streams-apply': 'operator',
    };
    for (const [service, role] of Object.entries(users)) {
      expect(compose.services[service]?.environment?.NATS_USER, service).toBe(
        natsUserOf(role as NatsRole, namesFor('main')),
      );
      expect(compose.services[service]?.environment?.NATS_PASSWORD, service).toMatch(
        new RegExp(`^\\$\\{${natsPasswordEnv(role as NatsRole)}:\\?`),
      );
    }
  });

  it('gives every k8s role pod its own NATS user, with its password from the rplace-nats-auth Secret', () => {
    const documents = ['edge.yaml', 'projectors.yaml'].flatMap((file) => k8sDocuments(file));
    const roles: Record<string, NatsRole> = {
      'rplace-edge': 'edge',
      'rplace-bitmap-projector': 'bitmap-projector',
      'rplace-history': 'history',
      'rplace-streams-apply': 'operator',
    };
    for (const [workload, role] of Object.entries(roles)) {
      const container = documents.find((d) => d.metadata.name === workload)?.spec.template.spec.containers[0];
      const env = Object.fromEntries(
        (container?.env ?? []).map((e: { name: string; value?: string; valueFrom?: unknown }) => [
          e.name,
          e.value ?? e.valueFrom,
        ]),
      );
      expect(env.NATS_USER, workload).toBe(natsUserOf(role, namesFor('main')));
      expect(env.NATS_PASSWORD, workload).toEqual({ secretKeyRef: { name: 'rplace-nats-auth', key: role } });
    }
  });
});

describe('deploy/k8s', () => {
  const kustomization = parse(read('deploy/k8s/kustomization.yaml')) as { resources: string[] };
  const documents = kustomization.resources.flatMap((file) => k8sDocuments(file));

  it('runs the nats-server the fault suite and npm run topology run (scripts/fetch-nats-server.mjs), in k8s and compose', () => {
    const pinned = read('scripts/fetch-nats-server.mjs').match(/^const VERSION = '(\d+\.\d+\.\d+)';$/m)?.[1];
    expect(pinned).toBe('2.10.27');
    const statefulSet = documents.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'nats');
    const compose = parse(read('deploy/compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
    expect([
      statefulSet?.spec.template.spec.containers[0].image,
      ...['nats1', 'nats2', 'nats3'].map((n) => compose.services[n]?.image),
    ]).toEqual(Array(4).fill(`nats:${pinned}-alpine`));
  });

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
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual([
      'nats',
      'postgres',
      'redis',
      'rplace-bitmap-projector',
      'rplace-edge',
      'rplace-history',
    ]);
    everyCommand(JSON.stringify(workloads));
    const commandOf = (name: string) =>
      roleEntryPoint(workloads.find((w) => w.metadata.name === name)?.spec.template.spec.containers[0].command);
    expect(['rplace-edge', 'rplace-bitmap-projector', 'rplace-history'].map(commandOf)).toEqual([
      'src/roles/edge/main.ts',
      'src/roles/bitmap-projector/main.ts',
      'src/roles/history/main.ts',
    ]);
    for (const workload of workloads) {
      for (const container of workload.spec.template.spec.containers) {
        expect(container.readinessProbe, workload.metadata.name).toBeDefined();
        expect(container.livenessProbe, workload.metadata.name).toBeDefined();
        const entry = roleEntryPoint(container.command);
        if (entry) expect(existsSync(join(root, entry)), entry).toBe(true);
      }
    }
  });

  // The operator's stream-apply Job runs the same image, so it is held to the same rules as the long-running pods.
  const workloads = documents.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet' || d.kind === 'Job');
  const appOf = (w: K8sNode): string => w.spec.template.metadata.labels['app.kubernetes.io/name'];
  const containersOf = (w: K8sNode): K8sNode[] => w.spec.template.spec.containers;
  const envOf = (c: K8sNode): K8sNode[] => c.env ?? [];
  const byName = (name: string) => workloads.find((w) => w.metadata.name === name)!;

  it("runs every pod non-root with the runtime's seccomp profile, every container read-only without capabilities or escalation", () => {
    for (const workload of workloads) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, workload.metadata.name).toBe(true);
      expect(pod.securityContext?.runAsUser, workload.metadata.name).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile, workload.metadata.name).toEqual({ type: 'RuntimeDefault' });
      expect(pod.automountServiceAccountToken, workload.metadata.name).toBe(false);
      for (const container of containersOf(workload)) {
        const where = `${workload.metadata.name}/${container.name}`;
        expect(container.securityContext?.allowPrivilegeEscalation, where).toBe(false);
        expect(container.securityContext?.readOnlyRootFilesystem, where).toBe(true);
        expect(container.securityContext?.capabilities?.drop, where).toEqual(['ALL']);
        expect(container.securityContext?.capabilities?.add, where).toBeUndefined();
        expect(container.image, where).toMatch(PINNED);
      }
    }
  });

  it('takes every password and secret from the Secret, never a literal; Postgres without trust; Redis with a password and AOF on a volume', () => {
    for (const workload of workloads) {
      for (const container of containersOf(workload)) {
        for (const env of envOf(container)) {
          const where = `${workload.metadata.name}/${container.name} ${env.name}`;
          // NATS identities have their own Secret (the nats pods read every role's password from it).
          const secret = /^(NATS_PASSWORD|RPLACE_NATS_\w+_PASSWORD)$/.test(env.name)
            ? 'rplace-nats-auth'
            : 'rplace-secrets';
          if (/PASSWORD|SECRET/.test(env.name)) expect(env.valueFrom?.secretKeyRef?.name, where).toBe(secret);
          if (env.name === 'REDIS_URL') expect(env.value, where).toBe('redis://:$(REDIS_PASSWORD)@redis:6379');
          if (env.name === 'DATABASE_URL')
            expect(env.value, where).toBe('postgres://rplace:$(RPLACE_DB_PASSWORD)@postgres:5432/rplace');
          expect(String(env.value ?? ''), where).not.toMatch(/^trust$/);
        }
      }
    }
    const rplaceEnv = documents.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'rplace-env')!.data as Record<
      string,
      string
    >;
    expect(Object.keys(rplaceEnv).filter((k) => /URL/.test(k))).toEqual(['NATS_URL']);
    const postgres = containersOf(byName('postgres'))[0]!;
    expect(envOf(postgres).find((e) => e.name === 'POSTGRES_HOST_AUTH_METHOD')?.value).toBe('scram-sha-256');
    const redis = containersOf(byName('redis'))[0]!;
    expect(redis.args).toEqual(expect.arrayContaining(['--requirepass', '$(REDIS_PASSWORD)', '--appendonly', 'yes']));
    expect(redis.volumeMounts).toEqual(expect.arrayContaining([{ name: 'data', mountPath: '/data' }]));
    expect(byName('redis').spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    const generator = (
      parse(read('deploy/k8s/kustomization.yaml')) as { configMapGenerator: { name: string; files: string[] }[] }
    ).configMapGenerator;
    expect(generator.find((g) => g.name === 'postgres-init')?.files).toEqual(['10-rplace-role.sh=postgres-init.sh']);
    expect(read('deploy/k8s/postgres-init.sh')).toMatch(/CREATE ROLE rplace LOGIN NOSUPERUSER/);
  });

  it('keeps client source addresses at the edge Service and serves metrics only on the internal port', () => {
    const service = documents.find((d) => d.kind === 'Service' && d.metadata.name === 'rplace-edge')!;
    expect(service.spec.externalTrafficPolicy).toBe('Local');
    expect(service.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual(['http']);
    const edge = byName('rplace-edge');
    const container = containersOf(edge)[0]!;
    const metricsPort = envOf(container).find((e) => e.name === 'METRICS_PORT')?.value;
    expect(metricsPort).toBe('9100');
    expect(edge.spec.template.metadata.annotations['prometheus.io/port']).toBe(metricsPort);
    expect(container.ports).toEqual(expect.arrayContaining([{ name: 'metrics', containerPort: 9100 }]));
  });

  it('denies all traffic by default and lets each role reach only what it needs', () => {
    const policies = documents.filter((d) => d.kind === 'NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'default-deny')!;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const policyFor = (app: string) =>
      policies.find((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === app)!;
    const peers = (rules: K8sNode[] | undefined, key: 'to' | 'from') =>
      (rules ?? [])
        .flatMap((r) =>
          (r[key] ?? []).map(
            (peer: K8sNode) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? 'namespace',
          ),
        )
        .sort();
    expect(peers(policyFor('rplace-edge').spec.egress, 'to')).toEqual(['nats', 'postgres', 'redis']);
    expect(peers(policyFor('rplace-bitmap-projector').spec.egress, 'to')).toEqual(['nats', 'redis']);
    expect(peers(policyFor('rplace-history').spec.egress, 'to')).toEqual(['nats', 'postgres']);
    expect(peers(policyFor('redis').spec.ingress, 'from')).toEqual(['rplace-bitmap-projector', 'rplace-edge']);
    expect(peers(policyFor('postgres').spec.ingress, 'from')).toEqual(['rplace-edge', 'rplace-history']);
    expect(peers(policyFor('rplace-streams-apply').spec.egress, 'to')).toEqual(['nats']);
    expect(peers(policyFor('nats').spec.ingress, 'from')).toEqual([
      'namespace',
      'nats',
      'rplace-bitmap-projector',
      'rplace-edge',
      'rplace-history',
      'rplace-streams-apply',
    ]);
    expect(policyFor('redis').spec.egress).toEqual([]);
    expect(policyFor('postgres').spec.egress).toEqual([]);
    // the edge's public port is open to all; its metrics port only to the monitoring namespace
    const edgeIngress = policyFor('rplace-edge').spec.ingress as K8sNode[];
    expect(edgeIngress.find((r) => r.from === undefined)?.ports).toEqual([{ protocol: 'TCP', port: 3000 }]);
    expect(edgeIngress.find((r) => r.from !== undefined)?.ports).toEqual([{ protocol: 'TCP', port: 9100 }]);
    // every workload is selected by a policy of its own
    for (const workload of workloads) expect(policyFor(appOf(workload)), workload.metadata.name).toBeDefined();
  });
});
