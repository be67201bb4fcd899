#!/usr/bin/env node
// `npm start` builds only when a source is newer than the build: an unchanged clone starts at once instead of
// re-running tsc (about 20 s on a small machine). A missing dist/ always builds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const stamp = path.join(root, 'dist', 'cli', 'main.js');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.sql'))
      latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

const sources = Math.max(
  newest(path.join(root, 'src')),
  ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map(
    (f) => statSync(path.join(root, f)).mtimeMs,
  ),
);
if (existsSync(stamp) && statSync(stamp).mtimeMs >= sources) process.exit(0);
const tsc = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(tsc.status ?? 1);
