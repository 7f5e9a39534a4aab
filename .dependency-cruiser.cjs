/**
 * The layer rule (docs/ARCHITECTURE.md, "Layers"), checked on every `npm run lint` and so on every `npm test`.
 * Any `error` below fails the build; `warn` is printed and kept as a known debt.
 *
 * Why dependency-cruiser and not the linter's restricted-imports: it resolves every import to the file it
 * loads (relative paths, `.ts` extensions, package `exports`), so a rule is written once per folder
 * ("src/app may not reach src/adapters") instead of as a list of `../../adapters/*` spellings per depth;
 * it also finds cycles through any number of files, type-only imports included.
 *
 */

/** Every dependency type of a package from node_modules (a "client library" in the layer rule's words). */
const NPM = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'];

/** What the RplaceClient may import, wherever it lives. */
const CLIENT_MAY_IMPORT = '^(src/client/|proto/|src/domain/|node_modules/(zod|fflate)/)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles anywhere (type-only imports count: a cycle of types is still a knot to untie).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'proto-is-pure',
      severity: 'error',
      comment: 'proto/ holds wire schemas, byte layouts, codecs and vectors: it imports only proto/ and zod.',
      from: { path: '^proto/' },
      to: { pathNot: '^(proto/|node_modules/zod/)' },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'The pure core: synchronous, no node:*, no client library. Imports only src/domain/ and proto/.',
      from: { path: '^src/domain/' },
      to: { pathNot: '^(src/domain/|proto/)' },
    },
    {
      name: 'ports-import-types-of-the-core',
      severity: 'error',
      comment: 'Port interfaces and their named errors: they import only src/ports/, src/domain/ and proto/.',
      from: { path: '^src/ports/' },
      to: { pathNot: '^(src/ports/|src/domain/|proto/)' },
    },
    {
      name: 'no-ports-barrel',
      severity: 'error',
      comment: 'Import each port from its own file: a barrel (src/ports/index.ts) invites cycles.',
      from: {},
      to: { path: '^src/ports/index\\.[cm]?[jt]s$' },
    },
    {
      name: 'app-uses-ports-not-adapters',
      severity: 'error',
      comment: 'Use cases run over ports passed in: src/app/ never imports adapters, composition roots or the client.',
      from: { path: '^src/app/' },
      to: { path: '^src/(adapters|roles|cli|config|client)/|^src/exit-codes\\.ts$' },
    },
    {
      name: 'app-uses-no-client-library',
      severity: 'error',
      comment:
        'No NATS, Redis, pg, Kysely or uWS in src/app/ (adapters translate them); zod is allowed for request ' +
        "bodies; node's own modules (crypto, net) are allowed, as they are no service's client.",
      from: { path: '^src/app/' },
      to: { dependencyTypes: NPM, pathNot: '^node_modules/zod/' },
    },
    {
      name: 'adapters-below-composition',
      severity: 'error',
      comment: 'Adapters are wired by the composition roots, never the other way round.',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(roles|cli)/|^src/exit-codes\\.ts$' },
    },
    {
      name: 'adapters-not-to-config',
      severity: 'error',
      comment:
        'Adapters take their settings as arguments: names live in src/domain/names.ts, connection options are ' +
        'declared by the adapter (NatsAuth in src/adapters/nats/connect.ts), config errors in src/ports/errors.ts.',
      from: { path: '^src/adapters/' },
      to: { path: '^src/config/' },
    },
    {
      name: 'only-composition-roots-import-adapters',
      severity: 'error',
      comment:
        'Adapters are imported by adapters, src/config, src/roles, src/cli and by tests, benchmarks and the ' +
        'deploy scripts: never by the core, the ports, the use cases, the client or the browser app.',
      from: { path: '^(src/(domain|ports|app|client)/|proto/|web/)' },
      to: { path: '^src/adapters/' },
    },
    {
      name: 'client-is-portable',
      severity: 'error',
      comment:
        'The RplaceClient runs in the browser and in Node: it imports only src/client/, proto/, src/domain/ ' +
        '(zod validates server messages, fflate inflates the compressed canvas: both pure, no service client).',
      from: { path: '^src/client/' },
      to: { pathNot: CLIENT_MAY_IMPORT },
    },
    {
      name: 'web-uses-proto-client-domain',
      severity: 'error',
      comment: "The browser app reaches the server's code only through proto/, src/client/ and src/domain/.",
      from: { path: '^web/', pathNot: '^web/vite\\.config\\.ts$' },
      to: { path: '^(src/|streams/|migrations/|deploy/)', pathNot: '^src/(client|domain)/' },
    },
    {
      name: 'web-runs-in-a-browser',
      severity: 'error',
      comment: 'No node:* in the browser bundle (its build config, web/vite.config.ts, runs in Node and may).',
      from: { path: '^web/', pathNot: '^web/vite\\.config\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'roles-and-cli-are-entries',
      severity: 'error',
      comment: 'Nothing below the composition roots imports a role or a CLI command.',
      from: { path: '^(src/(domain|ports|app|adapters|client|config)/|proto/|web/)' },
      to: { path: '^src/(roles|cli)/' },
    },
    {
      name: 'shipped-code-not-to-tests',
      severity: 'error',
      comment: 'Shipped code never imports tests or benchmarks.',
      from: { path: '^(src|proto|web|streams|migrations)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'shipped-code-not-to-dev-dependencies',
      severity: 'error',
      comment: 'A devDependency is not installed in production (npm ci --omit=dev).',
      from: { path: '^(src|proto|streams|migrations)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file is a typo or a missing dependency.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports count for the layers: a port's type in the wrong folder is a layer break too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Worktrees link node_modules to another checkout's: keep the link's path, so it still counts as node_modules.
    preserveSymlinks: true,
    doNotFollow: { path: '^node_modules/' },
    exclude: { path: '^(dist|coverage|web/dist)/' },
    enhancedResolveOptions: {
      // The @nats-io packages publish only an `exports` map.
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
