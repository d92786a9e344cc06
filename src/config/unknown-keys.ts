// Unknown keys of a config file, named without echoing the file: pointed at
// something that is not a config (a password file, say), YAML turns whole
// lines into keys, and those must not reach a terminal or a log.

/** What a setting name can look like; anything else is counted, not shown. */
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const SHOWN = 5;

/** `unknown key "ttll"`, `unknown keys "a", "b" and 3 more`, `2 keys that are not setting names (not shown; …)`. */
export function describeUnknownKeys(keys: readonly string[]): string {
  const named = keys.filter((k) => NAME.test(k));
  const others = keys.length - named.length;
  const parts: string[] = [];
  if (named.length) {
    const more = named.length > SHOWN ? ` and ${named.length - SHOWN} more` : '';
    parts.push(`unknown key${named.length > 1 ? 's' : ''} ${named.slice(0, SHOWN).map((k) => `"${k}"`).join(', ')}${more}`);
  }
  if (others) parts.push(`${others} ${others > 1 ? 'keys that are not setting names' : 'key that is not a setting name'} (not shown; is this the right file?)`);
  return parts.join('; ');
}
