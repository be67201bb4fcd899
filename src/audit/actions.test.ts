import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { actionsAccountedAs, AUDIT_ACTIONS, auditActionInfo, isAuditAction } from './actions.js';

const root = path.resolve(import.meta.dirname, '../..');

/** The string literals an expression can evaluate to: `'a'`, `x ? 'a' : 'b'`, `given ?? 'a'`, `('a')`. */
function literalsOf(e: ts.Expression): string[] {
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return [e.text];
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e))
    return literalsOf(e.expression);
  if (ts.isConditionalExpression(e)) return [...literalsOf(e.whenTrue), ...literalsOf(e.whenFalse)];
  if (ts.isBinaryExpression(e)) return [...literalsOf(e.left), ...literalsOf(e.right)];
  return [];
}

interface Emitted {
  readonly action: string;
  readonly where: string;
}

/**
 * Every action name the production source gives an audit event, wherever it is written: an `action` property
 * (`{ action: 'session.open' }`), an `action` variable, an argument to a parameter named `action`
 * (`record(p, 'audit.query')`, `audit.system('grant.expire', …)`), and what an `action` is compared with.
 */
function emittedActions(): Emitted[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) =>
        assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  );
  assert.ok(config);
  const files = config.fileNames.filter(
    (f) =>
      f.startsWith(path.join(root, 'src') + path.sep) &&
      !f.endsWith('.test.ts') &&
      !f.includes('/migrations/'),
  );
  const program = ts.createProgram(files, config.options);
  const checker = program.getTypeChecker();
  const out: Emitted[] = [];
  const add = (e: ts.Expression, node: ts.Node): void => {
    const source = node.getSourceFile();
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    for (const action of literalsOf(e))
      out.push({ action, where: `${path.relative(root, source.fileName)}:${line}` });
  };
  const isActionName = (name: ts.Node | undefined): boolean =>
    name !== undefined && (ts.isIdentifier(name) || ts.isStringLiteral(name)) && name.text === 'action';
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && isActionName(node.name)) add(node.initializer, node);
    else if (ts.isVariableDeclaration(node) && isActionName(node.name) && node.initializer)
      add(node.initializer, node);
    else if (
      ts.isBinaryExpression(node) &&
      [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken].includes(
        node.operatorToken.kind,
      ) &&
      ts.isPropertyAccessExpression(node.left) &&
      node.left.name.text === 'action'
    )
      add(node.right, node);
    else if (ts.isCallExpression(node)) {
      const signature = checker.getResolvedSignature(node);
      node.arguments.forEach((arg, i) => {
        const parameter = signature?.getParameters()[i];
        if (parameter?.name === 'action') add(arg, arg);
      });
    }
    ts.forEachChild(node, visit);
  };
  for (const file of program.getSourceFiles()) if (files.includes(file.fileName)) visit(file);
  return out;
}

describe('the audit vocabulary', () => {
  const emitted = emittedActions();

  it('registers every action the source emits', () => {
    const unregistered = emitted
      .filter((e) => !isAuditAction(e.action))
      .map((e) => `${e.action} (${e.where})`);
    assert.deepEqual(unregistered, [], 'add these to AUDIT_ACTIONS in src/audit/actions.ts');
  });

  it('registers no action the source never emits (the scan sees every emitter)', () => {
    const seen = new Set(emitted.map((e) => e.action));
    assert.deepEqual(
      Object.keys(AUDIT_ACTIONS).filter((a) => !seen.has(a)),
      [],
    );
  });

  it('accounts statement completions as disclosures, and grant activations and session openings as access', () => {
    assert.deepEqual([...actionsAccountedAs('disclosure')], ['statement.complete']);
    assert.deepEqual([...actionsAccountedAs('access')].sort(), ['grant.activate', 'session.open']);
  });

  it('keeps the FHIR codes the export gave before the registry (names read the same way)', () => {
    // The rules the export matched names with before each action said its own codes.
    const before = (a: string) => ({
      type: a.startsWith('auth.') ? '110114' : '110100',
      action: a.endsWith('.create')
        ? 'C'
        : a.startsWith('statement.')
          ? 'E'
          : /\.(read|list|query|export|verify|disclosures|proof|checkpoints)$/.test(a)
            ? 'R'
            : 'U',
    });
    for (const [name, info] of Object.entries(AUDIT_ACTIONS))
      assert.deepEqual({ type: info.fhirType, action: info.fhirAction }, before(name), name);
  });

  it('knows nothing of names it does not register', () => {
    assert.equal(auditActionInfo('grant.activated'), undefined);
    assert.equal(auditActionInfo('toString'), undefined);
    assert.equal(isAuditAction('constructor'), false);
  });
});
