import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fingerprintSql } from './sql-fingerprint.js';

const fp = (sql: string) => fingerprintSql(sql);

describe('SQL fingerprint', () => {
  it('replaces every kind of literal with ? and keeps the structure as written', () => {
    const cases: [string, string, string[]][] = [
      ["select * from encounters where mrn = '12345'", 'select * from encounters where mrn = ?', ['12345']],
      [
        "select 'a''b', E'it\\'s', U&'d\\0061t', B'101', X'1F', N'x'",
        'select ?, ?, ?, ?, ?, ?',
        ["a''b", "it\\'s", 'd\\0061t', '101', '1F', 'x'],
      ],
      [
        'select 42, 3.5, .5, 1e10, 1.5e-3, 0x1F, 0o17, 0b101, 1_000',
        'select ?, ?, ?, ?, ?, ?, ?, ?, ?',
        ['42', '3.5', '.5', '1e10', '1.5e-3', '0x1F', '0o17', '0b101', '1_000'],
      ],
      ["select $$ x $$, $a$ it's $b$ y $a$", 'select ?, ?', [' x ', " it's $b$ y "]],
      [
        'select * from t1 where col_2 = $1 and a$b = $2',
        'select * from t1 where col_2 = $1 and a$b = $2',
        [],
      ],
      ["select date '2020-01-01', '5'::int", 'select date ?, ?::int', ['2020-01-01', '5']],
      [
        'select 1 -- the mrn is 12345\n, 2 /* outer /* nested 999 */ still 888 */ from t',
        'select ? , ? from t',
        ['1', '2'],
      ],
      ['select "weird""id", "MRN" from "Pat ients"', 'select "weird""id", "MRN" from "Pat ients"', []],
      ["select 1; select 'x'", 'select ?; select ?', ['1', 'x']],
      ['SELECT   a\n\tFROM\r\nb', 'SELECT a FROM b', []],
    ];
    for (const [sql, fingerprint, literals] of cases) {
      assert.deepEqual(fp(sql), { fingerprint, literals }, sql);
    }
  });

  it('never echoes an unterminated string, comment or dollar quote', () => {
    for (const sql of [
      "select 'MRN-123",
      "select E'MRN\\'-123",
      'select 1 /* MRN-123',
      'select $q$ MRN-123',
      'select 1 -- MRN-123',
    ]) {
      assert.ok(!fp(sql).fingerprint.includes('MRN'), sql);
    }
  });

  it('writes control characters left in identifiers as visible escapes (ATTACKS 38)', () => {
    const r = fp('select "a\r\nb\u001b[31m\\" from t');
    assert.equal(r.fingerprint, 'select "a\\x0d\\x0ab\\x1b[31m\\\\" from t');
  });

  it('property: no literal content reaches the fingerprint, and the fingerprint does not depend on it', () => {
    const content = fc.string({
      unit: fc.constantFrom('M', 'R', 'N', "'", '\\', '$', '-', '*', '/', '\n', '\u001b', 'é', '"', ' ', '9'),
    });
    fc.assert(
      fc.property(content, content, (a, b) => {
        const sql = (v: string) =>
          `select * from encounters where mrn = '${v.replaceAll("'", "''")}' and note = $body$${v.replaceAll('$body$', '')}$body$ and n = 7`;
        const fa = fp(sql(a));
        const fb = fp(sql(b));
        assert.equal(fa.fingerprint, 'select * from encounters where mrn = ? and note = ? and n = ?');
        assert.equal(fa.fingerprint, fb.fingerprint);
        assert.equal(fa.literals[0], a.replaceAll("'", "''"));
      }),
    );
  });

  it('property: different structure never shares a fingerprint (identifiers and operators are kept)', () => {
    const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
    fc.assert(
      fc.property(ident, ident, (x, y) => {
        fc.pre(x !== y);
        assert.notEqual(
          fp(`select ${x} from t where a = 1`).fingerprint,
          fp(`select ${y} from t where a = 1`).fingerprint,
        );
      }),
    );
  });

  it('is linear: a megabyte of adversarial input completes', () => {
    for (const unit of ["'", '$$', '/*', '--', '"', "E'\\"]) {
      const r = fp(unit.repeat(Math.floor(1_000_000 / unit.length)));
      assert.equal(typeof r.fingerprint, 'string');
    }
  });
});
