import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { formatProblem, parseYamlWith } from './yaml-source.js';

const schema = z.strictObject({
  server: z.strictObject({ port: z.number().int().min(1).max(65535) }),
  name: z.string().optional(),
});

describe('parseYamlWith', () => {
  it('returns the validated value', () => {
    const r = parseYamlWith('server:\n  port: 8080\n', schema);
    assert.ok(r.ok);
    assert.equal(r.value.server.port, 8080);
  });

  it('names the key path and the line of a bad value', () => {
    const r = parseYamlWith('name: x\nserver:\n  port: 70000\n', schema);
    assert.ok(!r.ok);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]?.path, 'server.port');
    assert.equal(r.problems[0]?.line, 3);
    assert.match(formatProblem('phigate.yaml', r.problems[0]), /^phigate\.yaml:3: server\.port: /);
  });

  it('reports unknown keys on their own line and duplicate keys as YAML errors', () => {
    const unknown = parseYamlWith('server:\n  port: 1\n  prot: 2\n', schema);
    assert.ok(!unknown.ok);
    assert.equal(unknown.problems[0]?.line, 3);
    assert.equal(unknown.problems[0]?.path, 'server');
    const dup = parseYamlWith('server:\n  port: 1\n  port: 2\n', schema);
    assert.ok(!dup.ok);
    assert.equal(dup.problems[0]?.line, 3);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
      .concat(
        Array.from(
          { length: 8 },
          (_, i) =>
            `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`,
        ),
      )
      .join('\n');
    const r = parseYamlWith(bomb, z.unknown());
    assert.ok(!r.ok);
    assert.match(r.problems[0]?.message ?? '', /alias/i);
  });
});
