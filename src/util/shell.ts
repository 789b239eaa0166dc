/** Quoted for a POSIX shell when it needs to be, so a printed command can be pasted as it is. */
export function shellWord(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./^~-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
