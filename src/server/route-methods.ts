/**
 * Which methods each route path answers, so that a known path asked with the wrong method gets 405 and an `Allow`
 * header (RFC 9110 §15.5.6) instead of a 404 that suggests the path does not exist. Fastify's router answers only
 * "no route for this method and path"; this index remembers every registered route template and matches the
 * concrete path against them.
 */

export interface RouteMethods {
  add(method: string | readonly string[], url: string): void;
  /** The methods registered for a path, sorted; empty when no route has this path. */
  allowed(path: string): string[];
}

/** `/v1/requests/:id/approve` → a regular expression for one concrete path; `*` matches the rest of the path. */
function templatePattern(url: string): RegExp {
  const parts = url.split('/').map((segment) => {
    if (segment === '*') return '.*';
    if (segment.startsWith(':')) return '[^/]+';
    return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}$`);
}

export function createRouteMethods(): RouteMethods {
  const routes = new Map<string, { readonly pattern: RegExp; readonly methods: Set<string> }>();
  return {
    add(method, url) {
      let route = routes.get(url);
      if (route === undefined) {
        route = { pattern: templatePattern(url), methods: new Set() };
        routes.set(url, route);
      }
      for (const m of typeof method === 'string' ? [method] : method) route.methods.add(m.toUpperCase());
    },
    allowed(path) {
      const methods = new Set<string>();
      for (const route of routes.values()) {
        if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
      }
      return [...methods].sort();
    },
  };
}
