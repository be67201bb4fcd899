/**
 * Shell completion scripts (bash, zsh, fish) generated from the program itself, so that they never fall behind its
 * commands and options. Completes command names, sub-command names and option flags; values are left to the shell.
 */
import type { Command } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Spec {
  /** Command path below `phigate` ('' for the top level), e.g. `audit`. */
  readonly path: string;
  readonly subcommands: readonly string[];
  readonly flags: readonly string[];
}

/** Names are commander's own (letters, digits, dashes): nothing here needs quoting for a shell. */
function specs(command: Command, path = ''): Spec[] {
  const flags = command.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
  const subs = command.commands.map((c) => c.name());
  return [
    { path, subcommands: subs, flags: [...flags, '--help'] },
    ...command.commands.flatMap((c) => specs(c, path === '' ? c.name() : `${path} ${c.name()}`)),
  ];
}

function bash(all: readonly Spec[]): string {
  const paths = `|${all.map((s) => s.path).join('|')}|`;
  const cases = all
    .map((s) => `    "${s.path}") words="${[...s.subcommands, ...s.flags].join(' ')}" ;;`)
    .join('\n');
  return `# phigate completion for bash: eval "$(phigate completion bash)"
_phigate() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" next w i words=""
  local paths="${paths}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    next="\${path:+$path }$w"
    [[ "$paths" == *"|$next|"* ]] && path="$next"
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _phigate phigate
`;
}

function zsh(all: readonly Spec[]): string {
  return `#compdef phigate
# phigate completion for zsh: eval "$(phigate completion zsh)" (after compinit)
autoload -U bashcompinit && bashcompinit
${bash(all).replace(/^# .*\n/, '')}`;
}

function fish(all: readonly Spec[]): string {
  const lines = ['# phigate completion for fish: phigate completion fish | source', 'complete -c phigate -f'];
  for (const s of all) {
    const depth = s.path === '' ? 0 : s.path.split(' ').length;
    const parents = s.path === '' ? [] : s.path.split(' ');
    const condition =
      depth === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${parents[parents.length - 1]}`;
    for (const sub of s.subcommands) lines.push(`complete -c phigate -n '${condition}' -a ${sub}`);
    for (const flag of s.flags) {
      const opt = flag.startsWith('--') ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      lines.push(`complete -c phigate -n '${condition}' ${opt}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  const all = specs(program);
  return shell === 'bash' ? bash(all) : shell === 'zsh' ? zsh(all) : fish(all);
}
