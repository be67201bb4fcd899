import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRouteMethods } from './route-methods.js';

describe('route methods (405 and Allow)', () => {
  const routes = createRouteMethods();
  routes.add(['GET', 'HEAD'], '/v1/requests');
  routes.add('POST', '/v1/requests');
  routes.add('post', '/v1/requests/:id/approve');
  routes.add('GET', '/docs/*');

  it('lists every method registered for a path, whichever template matches it', () => {
    assert.deepEqual(routes.allowed('/v1/requests'), ['GET', 'HEAD', 'POST']);
    assert.deepEqual(routes.allowed('/v1/requests/abc/approve'), ['POST']);
    assert.deepEqual(routes.allowed('/docs/static/index.html'), ['GET']);
  });

  it('answers nothing for a path no route has: that stays a 404', () => {
    assert.deepEqual(routes.allowed('/v1/requests/abc/approve/more'), []);
    assert.deepEqual(routes.allowed('/v1/requestsX'), []);
    assert.deepEqual(routes.allowed('/v1/requests/a/b'), []);
  });

  it('treats template text literally, not as a regular expression', () => {
    const dotted = createRouteMethods();
    dotted.add('GET', '/openapi.json');
    assert.deepEqual(dotted.allowed('/openapiXjson'), []);
    assert.deepEqual(dotted.allowed('/openapi.json'), ['GET']);
  });
});
