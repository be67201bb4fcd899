import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { completionScript } from './completion.js';

function program(): Command {
  const p = new Command('phigate').option('--json');
  p.command('grants').option('--scope <s>');
  const audit = p.command('audit');
  audit.command('verify').option('--file <f>');
  audit.command('tail');
  return p;
}

/** What bash offers after `words`, completing the last one. */
function bashOffers(words: string[]): string[] {
  const script = completionScript(program(), 'bash');
  const r = spawnSync(
    'bash',
    [
      '-c',
      `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _phigate; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('shell completion', () => {
  it('completes commands, sub-commands and their options in a real bash', () => {
    assert.deepEqual(bashOffers(['phigate', 'gr']), ['grants']);
    assert.deepEqual(bashOffers(['phigate', '--json', 'audit', 've']), ['verify']);
    assert.deepEqual(bashOffers(['phigate', 'audit', 'verify', '--f']), ['--file']);
    assert.deepEqual(bashOffers(['phigate', 'grants', '--s']), ['--scope']);
  });

  it('writes zsh (through bashcompinit) and fish scripts from the same commands', () => {
    assert.match(
      completionScript(program(), 'zsh'),
      /^#compdef phigate\n[\s\S]*complete -o default -F _phigate/,
    );
    const fish = completionScript(program(), 'fish');
    assert.match(fish, /complete -c phigate -n '__fish_use_subcommand' -a audit/);
    assert.match(fish, /complete -c phigate -n '__fish_seen_subcommand_from audit' -a verify/);
    assert.match(fish, /complete -c phigate -n '__fish_seen_subcommand_from verify' -l file/);
  });
});
