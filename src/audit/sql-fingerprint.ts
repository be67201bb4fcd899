/**
 * SQL as the audit log keeps it: the statement's shape with every literal replaced by `?`, and the literals apart
 * (the caller turns each into a keyed token). Literals are where PHI lives in SQL (`where mrn = '12345'`), so no byte
 * of one may reach the fingerprint; the gateway will also key its guard decisions on fingerprints, so two statements
 * of different structure must never share one. Hence a hand-written single-pass lexer over PostgreSQL's lexical rules
 * (linear, no backtracking on attacker input) rather than regular expressions.
 *
 * Rules: '…' strings ('' inside), E'…' (backslash escapes), U&'…', B'…'/X'…', $tag$…$tag$ and $$…$$, numbers
 * (decimal, exponent, 0x/0o/0b, underscores) become `?`; `-- …` and nested `/* … *\/` comments are dropped; runs of
 * white space become one space; "quoted identifiers" and everything else are kept as written. An unterminated string,
 * comment or dollar quote swallows the rest of the text: it is never echoed. Control characters left in the
 * fingerprint (inside quoted identifiers) are written as `\xHH`, with `\` itself written `\\`, so a fingerprint cannot
 * forge a log line or a terminal escape.
 */

export interface SqlFingerprint {
  /** The statement with literals as `?`, comments removed, white space collapsed, trimmed. */
  readonly fingerprint: string;
  /** Each literal's content as written between its delimiters (escapes not interpreted), in order. */
  readonly literals: readonly string[];
}

const isSpace = (c: string): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isIdentStart = (c: string): boolean => /[A-Za-z_\u0080-\uffff]/.test(c);
const isIdentChar = (c: string): boolean => isIdentStart(c) || isDigit(c) || c === '$';

function visibleControl(text: string): string {
  // eslint-disable-next-line no-control-regex -- making control characters visible is the point
  return text.replace(/[\\\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

export function fingerprintSql(sql: string): SqlFingerprint {
  let out = '';
  const literals: string[] = [];
  let pendingSpace = false;
  let i = 0;
  const n = sql.length;
  const emit = (text: string): void => {
    if (pendingSpace && out.length > 0) out += ' ';
    pendingSpace = false;
    out += text;
  };
  /** A quoted literal starting at `start` (the quote); returns the index after it. */
  const quoted = (start: number, backslashEscapes: boolean): number => {
    let j = start + 1;
    let content = '';
    while (j < n) {
      const c = sql[j]!;
      if (backslashEscapes && c === '\\' && j + 1 < n) {
        content += c + sql[j + 1]!;
        j += 2;
      } else if (c === "'") {
        if (sql[j + 1] === "'") {
          content += "''";
          j += 2;
        } else {
          literals.push(content);
          return j + 1;
        }
      } else {
        content += c;
        j += 1;
      }
    }
    literals.push(content);
    return n;
  };

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1] ?? '';
    if (isSpace(c)) {
      pendingSpace = true;
      i += 1;
    } else if (c === '-' && next === '-') {
      while (i < n && sql[i] !== '\n') i += 1;
      pendingSpace = true;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
      pendingSpace = true;
    } else if (c === "'") {
      i = quoted(i, false);
      emit('?');
    } else if ((c === 'E' || c === 'e') && next === "'") {
      i = quoted(i + 1, true);
      emit('?');
    } else if ((c === 'B' || c === 'b' || c === 'X' || c === 'x' || c === 'N' || c === 'n') && next === "'") {
      i = quoted(i + 1, false);
      emit('?');
    } else if ((c === 'U' || c === 'u') && next === '&' && sql[i + 2] === "'") {
      i = quoted(i + 2, false);
      emit('?');
    } else if (c === '$' && isDigit(next)) {
      // A parameter ($1): kept.
      let j = i + 1;
      while (j < n && isDigit(sql[j]!)) j += 1;
      emit(sql.slice(i, j));
      i = j;
    } else if (c === '$') {
      // A dollar quote: $$ or $tag$ where the tag is an identifier; anything else is an operator character.
      let j = i + 1;
      while (j < n && sql[j] !== '$' && isIdentChar(sql[j]!) && sql[j] !== '$') j += 1;
      const tagOk = sql[j] === '$' && (j === i + 1 || isIdentStart(sql[i + 1]!));
      if (!tagOk) {
        emit('$');
        i += 1;
        continue;
      }
      const tag = sql.slice(i, j + 1);
      const end = sql.indexOf(tag, j + 1);
      literals.push(sql.slice(j + 1, end === -1 ? n : end));
      i = end === -1 ? n : end + tag.length;
      emit('?');
    } else if (c === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') j += 2;
          else break;
        } else j += 1;
      }
      emit(visibleControl(sql.slice(i, Math.min(j + 1, n))));
      i = j + 1;
    } else if (isDigit(c) || (c === '.' && isDigit(next))) {
      let j = i;
      if (c === '0' && /[xXoObB]/.test(next)) {
        j += 2;
        while (j < n && /[0-9A-Fa-f_]/.test(sql[j]!)) j += 1;
      } else {
        while (j < n && (isDigit(sql[j]!) || sql[j] === '_')) j += 1;
        if (sql[j] === '.') {
          j += 1;
          while (j < n && (isDigit(sql[j]!) || sql[j] === '_')) j += 1;
        }
        if (
          (sql[j] === 'e' || sql[j] === 'E') &&
          (isDigit(sql[j + 1] ?? '') || (/[+-]/.test(sql[j + 1] ?? '') && isDigit(sql[j + 2] ?? '')))
        ) {
          j += 2;
          while (j < n && isDigit(sql[j]!)) j += 1;
        }
      }
      literals.push(sql.slice(i, j));
      emit('?');
      i = j;
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql[j]!)) j += 1;
      emit(sql.slice(i, j));
      i = j;
    } else {
      // Operators and punctuation: one character at a time, kept; a control character is made visible.
      emit(visibleControl(c));
      i += 1;
    }
  }
  return { fingerprint: out, literals };
}
