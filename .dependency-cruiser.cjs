/**
 * Dependency rules `npm run lint` enforces over src/ (dependency-cruiser). The architecture's rules that keep the house
 * calm (../shared/ARCHITECTURE.md, docs/architecture.md): no import cycles, and the pure domain imports no I/O.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import cycle makes start-up order and tests fragile: break it with an interface or a port.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'policy-is-pure',
      severity: 'error',
      comment: 'policy/ is pure: it decides from what it is given and imports nothing with I/O.',
      from: { path: '^src/policy/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/(store|gateway|server|access|audit|provisioner|cli|demo|identity)/' },
    },
    {
      name: 'provisioner-below-gateway',
      severity: 'error',
      comment:
        'provisioner/ owns the protected databases (pools, grant roles, look-ups, the sweep) for access and the ' +
        'gateway alike, and runs whether or not the gateway listens: it must not reach back up into gateway/.',
      from: { path: '^src/provisioner/' },
      to: { path: '^src/gateway/' },
    },
    {
      name: 'gateway-not-store',
      severity: 'error',
      comment:
        'The gateway asks about grants through the access port (access/grant-directory.ts), never the store: "is ' +
        'this grant active?" is answered in one place.',
      from: { path: '^src/gateway/' },
      to: { path: '^src/store/' },
    },
    {
      name: 'rows-stay-in-store',
      severity: 'error',
      comment:
        'Rows are mapped to domain types (access/grant.ts) once, in the store: nothing else reads a column name. ' +
        '(eslint forbids importing a *Row type from the store too.)',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: { path: '^src/store/[^/]+-rows\\.ts$' },
    },
    {
      name: 'no-test-code-in-src',
      severity: 'error',
      comment: 'Production code never imports a test or test support.',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '(\\.test\\.ts$|^test/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
