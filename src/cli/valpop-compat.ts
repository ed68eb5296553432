import { ConfigError } from '../errors';

/**
 * valpop's command-line forms that commander does not read by itself, mapped once, before
 * commander sees the arguments and the environment.
 *
 * valpop (cobra + viper) declares -a -p -m -u -c -b as persistent flags of the root command, so
 * `valpop -b B -a H populate …` works there. It also calls viper.SetEnvPrefix("VALPOP") and
 * AutomaticEnv() without a key replacer, so a flag `min-asset-records` is read from
 * `VALPOP_MIN-ASSET-RECORDS`: the hyphen stays (Kubernetes allows such names). pushcache's
 * options read `VALPOP_MIN_ASSET_RECORDS`; both forms are accepted.
 */

/** valpop's persistent (global) flags: they take a value each. */
export const VALPOP_GLOBAL_FLAGS: ReadonlyArray<{ short: string; long: string }> = [
  { short: '-a', long: '--hostname' },
  { short: '-p', long: '--port' },
  { short: '-m', long: '--mode' },
  { short: '-u', long: '--username' },
  { short: '-c', long: '--password' },
  { short: '-b', long: '--bucket' },
];

/**
 * Moves valpop's global flags given before the subcommand to just after it, where pushcache's
 * subcommands declare them. Flags the user gave after the subcommand stay after these, so the
 * later one wins, as in cobra. Anything else before the subcommand (`--help`, a typo) is left
 * where it is for commander to answer. `args` excludes node and the script.
 */
export function hoistGlobalFlags(args: readonly string[]): string[] {
  const hoisted: string[] = [];
  let i = 0;
  while (i < args.length) {
    const arg = args[i];
    const flag = VALPOP_GLOBAL_FLAGS.find((f) => arg === f.short || arg === f.long);
    if (flag) {
      // A missing value is left for commander to report against the subcommand.
      hoisted.push(flag.long, ...args.slice(i + 1, i + 2));
      i += 2;
      continue;
    }
    const inline = VALPOP_GLOBAL_FLAGS.find((f) => arg.startsWith(`${f.long}=`) || (arg.startsWith(f.short) && arg.length > 2));
    if (inline) {
      // --bucket=B, -bB and pflag's -b=B.
      const value = arg.startsWith(`${inline.long}=`) ? arg.slice(inline.long.length + 1) : arg.slice(2).replace(/^=/, '');
      hoisted.push(inline.long, value);
      i += 1;
      continue;
    }
    break;
  }
  if (hoisted.length === 0 || i >= args.length || args[i].startsWith('-')) return [...args];
  return [args[i], ...hoisted, ...args.slice(i + 1)];
}

/**
 * The underscore names (`VALPOP_MIN_ASSET_RECORDS`) for every `VALPOP_*` variable set in viper's
 * hyphenated form, for commander's `.env()` to read. Empty values count as unset, as in viper.
 * The same setting given in both forms with different values is refused rather than guessed.
 */
export function valpopEnvAliases(env: Record<string, string | undefined>): Record<string, string> {
  const aliases: Record<string, string> = {};
  const conflicts: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('VALPOP_') || !name.includes('-') || value === undefined || value === '') continue;
    const underscore = name.replace(/-/g, '_').toUpperCase();
    const existing = env[underscore];
    if (existing !== undefined && existing !== '' && existing !== value) {
      conflicts.push(`${name} and ${underscore} are both set, to different values; keep one`);
      continue;
    }
    if (aliases[underscore] !== undefined && aliases[underscore] !== value) {
      conflicts.push(`${underscore} is given twice in hyphenated forms, with different values; keep one`);
      continue;
    }
    aliases[underscore] = value;
  }
  if (conflicts.length > 0) throw new ConfigError(conflicts);
  return aliases;
}
