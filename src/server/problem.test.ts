import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTP_STATUS, PhigateError, type ErrorKind } from '../lib/errors.js';
import { problem, toProblem } from './problem.js';
import { isStoreUnavailable } from './store-errors.js';

describe('problem details', () => {
  it('maps every error kind to its status, keeping the stable code and the details', () => {
    for (const [kind, status] of Object.entries(HTTP_STATUS) as [ErrorKind, number][]) {
      const p = toProblem(new PhigateError(kind, `x.${kind}`, 'what happened', { field: 'body/role' }));
      assert.ok(p);
      assert.deepEqual(
        { status: p.status, code: p.code, detail: p.detail, field: p['field'] },
        { status, code: `x.${kind}`, detail: 'what happened', field: 'body/role' },
      );
      assert.equal(p.type, `https://phigate.dev/problems/x.${kind}`);
      assert.notEqual(p.title, 'Error', `${status} has a title`);
    }
  });

  it('lets extensions never overwrite the standard members', () => {
    const p = problem(400, 'request.invalid', 'bad', { status: 200, code: 'ok', type: 'x' });
    assert.deepEqual(
      [p.status, p.code, p.type],
      [400, 'request.invalid', 'https://phigate.dev/problems/request.invalid'],
    );
  });

  it('leaves anything it does not know to the 500 path, and tells store outages from bugs', () => {
    assert.equal(toProblem(new Error('relation "requests" does not exist')), undefined);
    assert.equal(toProblem(new TypeError('x is undefined')), undefined);
    const sqlstate = (code: string): Error => Object.assign(new Error('db'), { code });
    assert.equal(isStoreUnavailable(sqlstate('57P01')), true, 'admin shutdown');
    assert.equal(isStoreUnavailable(sqlstate('08006')), true, 'connection failure');
    assert.equal(isStoreUnavailable(sqlstate('3D000')), true, 'database gone');
    assert.equal(isStoreUnavailable(sqlstate('ECONNREFUSED')), true);
    assert.equal(isStoreUnavailable(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isStoreUnavailable(sqlstate('42P01')), false, 'a bad query is a bug, not an outage');
    assert.equal(isStoreUnavailable(sqlstate('23505')), false);
    assert.equal(isStoreUnavailable('ECONNREFUSED'), false);
  });
});
