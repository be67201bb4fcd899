/**
 * Parses a YAML document and validates it with a zod schema, reporting every problem with the key path and the
 * line it stands on in the source file — configuration and policy errors must point at the line to fix.
 */
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

export interface SourceProblem {
  /** Dotted key path, e.g. `roles.support-read.duration.max`. */
  readonly path: string;
  /** 1-based line in the source, when it can be located. */
  readonly line: number | undefined;
  readonly message: string;
}

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T; readonly document: Document; readonly lines: LineCounter }
  | { readonly ok: false; readonly problems: readonly SourceProblem[] };

export function formatProblem(sourceName: string, p: SourceProblem): string {
  const where = p.line === undefined ? sourceName : `${sourceName}:${p.line}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** Finds the line of the deepest node along `path` that exists (a missing key points at its parent). */
export function lineOf(
  document: Document,
  lines: LineCounter,
  path: readonly (string | number)[],
): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? document.contents : document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

export function parseYamlWith<S extends z.ZodType>(text: string, schema: S): ValidationResult<z.output<S>> {
  const lines = new LineCounter();
  // uniqueKeys: a key given twice is an error, not a silent override (a policy must mean one thing).
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((e) => ({
        path: '',
        line: e.linePos?.[0]?.line,
        message: (e.message.split('\n')[0] ?? 'invalid YAML').replace(/ at line \d+, column \d+:?$/, ''),
      })),
    };
  }
  // Aliases expand lazily; a cap keeps a "billion laughs" document from exhausting memory.
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, problems: [{ path: '', line: undefined, message: (err as Error).message }] };
  }
  const parsed = schema.safeParse(data ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => {
        const path = issue.path.map((k) => (typeof k === 'symbol' ? String(k) : k));
        // An unknown key is best shown on its own line, not on its parent's.
        const located = issue.code === 'unrecognized_keys' && issue.keys[0] ? [...path, issue.keys[0]] : path;
        return { path: path.join('.'), line: lineOf(document, lines, located), message: issue.message };
      }),
    };
  }
  return { ok: true, value: parsed.data, document, lines };
}
