// Shell completion (docs/cli.md#shell-completion): a hidden `__complete` command speaking cobra's protocol
// (candidates one per line, then `:<directive>`), so kubectl's plugin completion
// (`kubectl_complete-moco` on PATH, kubectl ≥ 1.26) and the scripts printed by
// `completion bash|zsh|fish|powershell` can call it.

/** cobra's ShellCompDirectiveNoFileComp. */
export const DIRECTIVE_NO_FILE_COMP = 4;

/** The shape of the command tree completion needs. */
export interface CompletionSpec {
  /** Subcommands by name. */
  commands: Readonly<Record<string, CompletionSpec>>;
  /** Flags (long and short forms) this command accepts, with whether each takes a value. */
  flags: Readonly<Record<string, boolean>>;
  /** Fixed values for flags (by every form of the flag). */
  flagValues?: Readonly<Record<string, readonly string[]>>;
  /** The command takes CLUSTER_NAME as its first positional argument. */
  takesCluster?: boolean;
}

export type CompletionRequest =
  | { kind: "values"; values: readonly string[] }
  | { kind: "clusters"; prefix: string; namespace: string | undefined };

/**
 * What to complete for `words` (the arguments after the program name, the last being
 * the word under the cursor, possibly ""). Pure.
 */
export function completionRequest(root: CompletionSpec, words: readonly string[]): CompletionRequest {
  const toComplete = words[words.length - 1] ?? "";
  const before = words.slice(0, -1);
  let node = root;
  const globalFlags = root.flags;
  let positionals = 0;
  let namespace: string | undefined;
  let afterDashDash = false;
  for (let i = 0; i < before.length; i++) {
    const w = before[i] as string;
    if (afterDashDash) { positionals++; continue; }
    if (w === "--") { afterDashDash = true; continue; }
    if (w.startsWith("-")) {
      const name = w.includes("=") ? w.slice(0, w.indexOf("=")) : w;
      const takesValue = node.flags[name] ?? globalFlags[name] ?? false;
      if (takesValue && !w.includes("=")) {
        const v = before[i + 1];
        if ((name === "-n" || name === "--namespace") && v !== undefined) namespace = v;
        i++;
      } else if ((name === "-n" || name === "--namespace") && w.includes("=")) {
        namespace = w.slice(w.indexOf("=") + 1);
      }
      continue;
    }
    const sub = positionals === 0 ? node.commands[w] : undefined;
    if (sub) node = sub;
    else positionals++;
  }
  if (afterDashDash) return { kind: "values", values: [] };
  const prev = before[before.length - 1];
  if (prev !== undefined && prev.startsWith("-") && !prev.includes("=")) {
    const takesValue = node.flags[prev] ?? globalFlags[prev] ?? false;
    if (takesValue) {
      const values = node.flagValues?.[prev] ?? root.flagValues?.[prev] ?? [];
      return { kind: "values", values: values.filter((v) => v.startsWith(toComplete)) };
    }
  }
  if (toComplete.startsWith("-")) {
    const flags = [...new Set([...Object.keys(node.flags), ...Object.keys(globalFlags)])].sort();
    return { kind: "values", values: flags.filter((f) => f.startsWith(toComplete)) };
  }
  if (!afterDashDash && positionals === 0 && Object.keys(node.commands).length > 0) {
    return { kind: "values", values: Object.keys(node.commands).sort().filter((c) => c.startsWith(toComplete)) };
  }
  if (node.takesCluster && positionals === 0 && !afterDashDash) {
    return { kind: "clusters", prefix: toComplete, namespace };
  }
  return { kind: "values", values: [] };
}

/** cobra's output format: candidates, then `:directive`. */
export function formatCompletion(values: readonly string[]): string {
  return `${values.map((v) => `${v}\n`).join("")}:${DIRECTIVE_NO_FILE_COMP}\n`;
}

const BASH = `# bash completion for kubectl-moco (source it, or put it in /etc/bash_completion.d)
_kubectl_moco() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local out
  out=$(kubectl-moco __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
  local IFS=$'\\n'
  COMPREPLY=( $(printf '%s\\n' "$out" | sed '$d') )
}
complete -o nosort -F _kubectl_moco kubectl-moco 2>/dev/null || complete -F _kubectl_moco kubectl-moco
`;

const ZSH = `#compdef kubectl-moco
# zsh completion for kubectl-moco
_kubectl_moco() {
  local -a cands
  local out
  out=$(kubectl-moco __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null) || return
  cands=("\${(@f)out}")
  cands=("\${(@)cands[1,-2]}")
  compadd -- "\${cands[@]}"
}
compdef _kubectl_moco kubectl-moco
`;

const FISH = `# fish completion for kubectl-moco
function __kubectl_moco_complete
  set -l tokens (commandline -opc)
  set -e tokens[1]
  kubectl-moco __complete $tokens (commandline -ct) 2>/dev/null | sed '$d'
end
complete -c kubectl-moco -f -a '(__kubectl_moco_complete)'
`;

const POWERSHELL = `# powershell completion for kubectl-moco
Register-ArgumentCompleter -Native -CommandName 'kubectl-moco' -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $words = $commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() }
  if ($wordToComplete -eq '') { $words += '' }
  $out = & kubectl-moco __complete @words 2>$null
  $out | Select-Object -SkipLast 1 | ForEach-Object {
    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
  }
}
`;

export const COMPLETION_SHELLS: readonly string[] = ["bash", "zsh", "fish", "powershell"];

/** The completion script for `shell`, or undefined for an unknown shell. */
export function completionScript(shell: string): string | undefined {
  return ({ bash: BASH, zsh: ZSH, fish: FISH, powershell: POWERSHELL } as Record<string, string>)[shell];
}
