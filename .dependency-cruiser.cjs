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
