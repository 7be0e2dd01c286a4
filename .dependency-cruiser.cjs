// The import rules of src/ (npm run lint:deps, run in CI). Arrows point down only:
// routes → services → engines and stores → db and config. errors.ts and timing.ts are neutral
// modules that every layer may use. See docs/architecture.md.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle means two modules cannot be understood (or changed) one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lower-layers-stay-below-http',
      severity: 'error',
      comment:
        'Engines, stores, models and the database know nothing of HTTP, the app or the wiring. ' +
        'A route file (storage/audio-file-routes.ts serves the local store) is the HTTP layer itself.',
      from: { path: '^src/(speech|storage|llm|db|config)/|^src/(errors|timing)\\.ts$', pathNot: '-routes\\.ts$' },
      to: { path: '^src/(http/|app\\.ts$|wiring\\.ts$|main\\.ts$|cli/)' },
    },
    {
      name: 'services-stay-below-http',
      severity: 'error',
      comment:
        'Services, repositories and credential checks take a Timing or a Principal and throw errors.ts errors; ' +
        'only routes (and the schemas they share with services, TypeBox only) see HTTP.',
      from: { path: '^src/(chat|personas|access)/', pathNot: '-(routes|schemas)\\.ts$' },
      to: { path: '^src/(http/|app\\.ts$|wiring\\.ts$)' },
    },
    {
      name: 'storage-does-not-know-speech',
      severity: 'error',
      comment: 'Storage keeps bytes under keys; what the bytes are is speech/s business.',
      from: { path: '^src/storage/' },
      to: { path: '^src/speech/' },
    },
    {
      name: 'engines-do-not-know-each-other',
      severity: 'error',
      comment: 'Changing one speech engine never means opening another.',
      from: { path: '^src/speech/engines/([^/]+)/' },
      to: { path: '^src/speech/engines/[^/]+/', pathNot: '^src/speech/engines/$1/' },
    },
    {
      name: 'config-is-the-bottom',
      severity: 'error',
      comment: 'The environment is parsed once, from nothing but itself.',
      from: { path: '^src/config/' },
      to: { path: '^src/(?!config/)' },
    },
    {
      name: 'no-test-code-in-src',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
