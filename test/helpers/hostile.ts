/**
 * Hostile candidates for end-to-end runs. The target's `work.js` loads every `src/*.js`, and both
 * the protected test (`test.js`, the checks) and the protected bench (`bench/run.js`) load
 * `work.js`: a candidate that adds a file under `src/` runs its code in every stage, the way a
 * real change to a module under test would. Each hostile module says what it tried and how that
 * went on stdout (`[hostile] what: done` or the error code), so the logs show it.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { git, gitdir, type FileTree } from './gitdir.js';

export const HOSTILE_FILES: FileTree = {
  'package.json': '{ "type": "commonjs" }\n',
  'cost.txt': '100\n',
  'work.js': [
    "'use strict';",
    "const fs = require('fs');",
    "const path = require('path');",
    "const src = path.join(__dirname, 'src');",
    "for (const name of fs.existsSync(src) ? fs.readdirSync(src).sort() : []) if (name.endsWith('.js')) require(path.join(src, name));",
    "exports.cost = () => Number(fs.readFileSync(path.join(__dirname, 'cost.txt'), 'utf8'));",
    '',
  ].join('\n'),
  'test.js': ["'use strict';", "const work = require('./work.js');", "if (!(work.cost() > 0)) { console.error('cost must be positive'); process.exitCode = 1; }", ''].join('\n'),
  'bench/run.js': ["'use strict';", "const work = require('../work.js');", "console.log('METRIC cost=' + work.cost());", ''].join('\n'),
};

/** The spec of the hostile target; `sandbox` is left out for the default (auto). */
export function hostileSpec(sandbox?: 'none' | 'bwrap' | 'auto'): string {
  return [
    'objective: make the cost lower',
    ...(sandbox === undefined ? [] : [`sandbox: ${sandbox}`]),
    'editable: ["work.js", "cost.txt", "src/**"]',
    'protected: ["bench/**", "test.js", "ratchet.yaml", "package.json"]',
    'checks:',
    '  - { name: test, run: node test.js, timeout: 20s }',
    'bench:',
    '  run: node bench/run.js',
    '  timeout: 3s',
    '  metric: { name: cost, goal: minimize }',
    'budget: { consecutive_failures: 50 }',
    '',
  ].join('\n');
}

export async function makeHostileTarget(sandbox?: 'none' | 'bwrap' | 'auto'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  return gitdir({ ...HOSTILE_FILES, 'ratchet.yaml': hostileSpec(sandbox) });
}

/** What every hostile module starts with: where it is, which stage runs it, how it reports. */
const PRELUDE = [
  "'use strict';",
  "const fs = require('fs');",
  "const os = require('os');",
  "const net = require('net');",
  "const path = require('path');",
  "const cp = require('child_process');",
  'const stage = process.env.RATCHET_STAGE;',
  'const run = process.env.RATCHET_RUN;',
  "const root = path.join(__dirname, '..');",
  "const say = (text) => fs.writeSync(1, '[hostile] ' + text + '\\n');",
  "const why = (e) => e.code || String((e.stderr && e.stderr.toString()) || e.message).trim().split('\\n')[0];",
  "const attempt = (what, act) => { try { act(); say(what + ': done'); } catch (e) { say(what + ': ' + why(e)); } };",
].join('\n');

/** A patch that adds `src/<name>.js` running `body` (after the prelude) whenever work.js is loaded. */
export function hostileModulePatch(name: string, subject: string, body: string): string {
  return newFilePatch(`src/${name}.js`, `${PRELUDE}\n${body.trim()}\n`, subject);
}

/** A unified diff that creates `path` with `content` (any number of lines, ending in a newline). */
export function newFilePatch(path: string, content: string, subject: string): string {
  const lines = content.replace(/\n$/, '').split('\n');
  return [`# ${subject}`, `diff --git a/${path} b/${path}`, 'new file mode 100644', '--- /dev/null', `+++ b/${path}`, `@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`), ''].join('\n');
}

/** The diff git itself makes for `edit` applied to a repository holding `files` (links, modes, deletions). */
export async function gitMadePatch(files: FileTree, subject: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const scratch = await gitdir(files);
  try {
    await edit(scratch.path);
    git(scratch.path, 'add', '-A');
    return `# ${subject}\n${git(scratch.path, 'diff', '--cached', '--binary', 'HEAD')}\n`;
  } finally {
    await scratch.cleanup();
  }
}

/** A patch adding a file of about `megabytes` MB under src/ (not a .js file, so nothing loads it). */
export function hugePatch(megabytes: number, subject: string): string {
  const line = `+${'x'.repeat(99)}\n`; // 101 bytes
  const count = Math.ceil((megabytes * 1024 * 1024) / line.length);
  return `# ${subject}\ndiff --git a/src/blob.txt b/src/blob.txt\nnew file mode 100644\n--- /dev/null\n+++ b/src/blob.txt\n@@ -0,0 +1,${count} @@\n${line.repeat(count)}`;
}

// ---------------------------------------------------------------------------------------------
// The hostile modules, one per row of the threat table.

/** Checks rewrite the protected bench into a fake that prints a great metric and restores itself. */
export const FAKE_BENCH = `
if (stage === 'checks') attempt('rewrite bench/run.js', () => {
  const file = path.join(root, 'bench', 'run.js');
  const real = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, 'require("fs").writeFileSync(__filename, ' + JSON.stringify(real) + '); console.log("hostile-fake-bench-ran"); console.log("METRIC cost=1");\\n');
});
`;

/** The bench moves the user's main, the run's best, and makes a branch. */
export const MOVE_REFS = `
if (stage === 'bench') {
  const head = cp.execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const quiet = { cwd: root, stdio: 'pipe' };
  attempt('move refs/heads/main', () => cp.execFileSync('git', ['update-ref', 'refs/heads/main', head], quiet));
  attempt('move the best branch', () => cp.execFileSync('git', ['update-ref', 'refs/heads/ratchet/' + run + '/best', head], quiet));
  attempt('create a branch', () => cp.execFileSync('git', ['branch', 'hostile-branch', head], quiet));
}
`;

/**
 * Deletes the worktree's \`.git\` link in the given stages; in experiment \`waitIn\` it then waits
 * long enough for the test to kill ratchet with the link gone.
 */
export function deleteGitLink(stages: readonly ('checks' | 'bench')[], waitIn?: string): string {
  return `
if (${JSON.stringify(stages)}.includes(stage)) {
  attempt('delete .git', () => fs.rmSync(path.join(root, '.git'), { force: true, recursive: true }));
  if (process.env.RATCHET_EXPERIMENT === ${JSON.stringify(waitIn ?? '')}) { say('hostile-git-deleted, waiting to be killed'); cp.execFileSync('sleep', ['15']); }
}
`;
}

/**
 * Writes by absolute path (\`outside\`, a folder of the test), into HOME (when \`home\`), and into
 * the user's checkout found by walking up from the working directory: a new file and a change
 * to a tracked one. Every file is named after \`marker\`.
 */
export function writeOutside(marker: string, outside: string | undefined, home: boolean): string {
  return `
const marker = ${JSON.stringify(marker)};
${outside === undefined ? '' : `attempt('write by absolute path', () => fs.writeFileSync(${JSON.stringify(outside)} + '/' + marker + '-abs', 'x'));`}
${outside === undefined ? '' : `attempt('write into /tmp', () => fs.writeFileSync('/tmp/' + marker + '-tmp', 'x'));`}
${home ? "attempt('write into HOME', () => fs.writeFileSync(path.join(os.homedir(), marker + '-home'), 'x'));" : ''}
let checkout;
for (let dir = path.dirname(process.cwd()); dir !== path.dirname(dir); dir = path.dirname(dir)) {
  try { if (fs.statSync(path.join(dir, '.git')).isDirectory()) { checkout = dir; break; } } catch {}
}
say('the user checkout is ' + checkout);
if (checkout !== undefined) {
  attempt('add a file to the user checkout', () => fs.writeFileSync(path.join(checkout, marker + '-checkout'), 'x'));
  attempt('change cost.txt in the user checkout', () => fs.writeFileSync(path.join(checkout, 'cost.txt'), '1\\n'));
}
`;
}

/** Connects to a TCP listener of the test on 127.0.0.1. */
export function connectTo(port: number): string {
  return `
const socket = net.connect(${port}, '127.0.0.1');
socket.on('connect', () => { say('connected to 127.0.0.1:${port}'); socket.end('hostile ' + stage + '\\n'); });
socket.on('error', (e) => say('connect to 127.0.0.1:${port}: ' + e.code));
`;
}

/**
 * Finds ratchet by its run id in \`/proc/*\/cmdline\`, reads its environment and prints the
 * secrets there: raw (redaction must catch them) or, when \`encode\`, base64 (only the sandbox can
 * keep those out). Secrets in its own environment are printed base64 (the allowlist keeps them out).
 * Only the variables named here are printed: the test's own environment is not the candidate's to show.
 */
export function readRatchetEnviron(names: readonly string[], encode: boolean): string {
  return `
const names = ${JSON.stringify(names)};
const secret = (line) => names.some((n) => line.startsWith(n + '='));
const show = (line) => ${encode ? "Buffer.from(line).toString('base64')" : 'line'};
for (const line of Object.entries(process.env).map(([k, v]) => k + '=' + v)) if (secret(line)) say('own env: ' + Buffer.from(line).toString('base64'));
let found = 0;
for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
  let cmdline = '';
  try { cmdline = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'); } catch { continue; }
  if (!cmdline.includes(run) || !/node|redis/.test(cmdline)) continue;
  let environ;
  try { environ = fs.readFileSync('/proc/' + pid + '/environ', 'utf8'); } catch (e) { say('environ of ' + pid + ': ' + why(e)); continue; }
  found++;
  for (const line of environ.split('\\0')) if (secret(line)) say('ratchet (' + pid + ') env: ' + show(line));
}
say('processes of ratchet found: ' + found);
`;
}

/**
 * In the bench: starts children that leave the process group (\`setsid\`, a detached spawn, and
 * \`nohup … &\`), all holding stdout, each sleeping a duration unique to the test, then sleeps
 * past the bench timeout itself.
 */
export function escapeChildren(sleeps: readonly [string, string, string]): string {
  const [a, b, c] = sleeps;
  return `
if (stage === 'bench') {
  cp.spawn('setsid', ['sleep', '${a}'], { stdio: 'inherit' }).unref();
  cp.spawn('sleep', ['${b}'], { stdio: 'inherit', detached: true }).unref();
  cp.spawn('sh', ['-c', 'nohup sleep ${c} &'], { stdio: 'inherit' }).unref();
  say('hostile children started');
  cp.execFileSync('sleep', ['30']);
}
`;
}

/**
 * Finds the run folder through the paths in every \`/proc/*\/cmdline\`, appends a forged keep
 * (with its best_advanced) to events.jsonl, and says hello to every Redis socket it finds.
 */
export const FORGE_RECORD = `
if (stage === 'bench') {
  const head = cp.execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const args = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
    try { args.push(...fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0')); } catch {}
  }
  const dirs = new Set();
  for (const arg of args) for (let d = arg; path.isAbsolute(d) && d !== '/'; d = path.dirname(d)) dirs.add(d);
  const runDirs = new Set();
  const sockets = new Set(args.filter((a) => a.endsWith('.sock')));
  for (const d of dirs) {
    const look = [d, path.join(d, run), path.join(d, 'experiments', run)];
    try { for (const e of fs.readdirSync(d)) look.push(path.join(d, e)); } catch {}
    for (const c of look) if (fs.existsSync(path.join(c, 'events.jsonl'))) runDirs.add(c);
  }
  say('run folders found: ' + runDirs.size);
  const t = new Date().toISOString();
  const forged = [
    { v: 1, t, run, type: 'experiment_started', exp: 'e0999', parent: head, parentExp: 'e0000' },
    { v: 1, t, run, type: 'proposed', exp: 'e0999', description: 'hostile-forged-keep' },
    { v: 1, t, run, type: 'committed', exp: 'e0999', commit: head, files: ['work.js'], insertions: 1, deletions: 0 },
    { v: 1, t, run, type: 'experiment_finished', exp: 'e0999', verdict: 'keep', reason: 'hostile-forged-keep', description: 'hostile-forged-keep', commit: head, parent: head, metric: 1, delta: -99, gain: 0.99, secondary: {}, durationS: 1 },
    { v: 1, t, run, type: 'best_advanced', exp: 'e0999', commit: head, metric: 1 },
  ].map((e) => JSON.stringify(e) + '\\n').join('');
  for (const d of runDirs) {
    attempt('forge a keep in ' + d, () => fs.appendFileSync(path.join(d, 'events.jsonl'), forged));
    if (fs.existsSync(path.join(d, 'redis.sock'))) sockets.add(path.join(d, 'redis.sock'));
  }
  say('redis sockets found: ' + sockets.size);
  for (const s of sockets) {
    const c = net.createConnection(s);
    c.on('connect', () => c.write('PING\\r\\n'));
    c.on('data', (d) => { say('hostile-redis-answered on ' + s + ': ' + d.toString().trim()); c.destroy(); });
    c.on('error', (e) => say('redis ' + s + ': ' + e.code));
    setTimeout(() => c.destroy(), 1000).unref();
  }
}
`;

// ---------------------------------------------------------------------------------------------
// Looking at what is left afterwards

/** Every file under `dir` (recursively) whose bytes contain one of `needles`, as `file: needle`. */
export async function filesContaining(dir: string, needles: readonly string[]): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      if (!entry.isFile()) continue; // the Redis socket, links
      const bytes = await readFile(full);
      for (const needle of needles) if (bytes.includes(needle)) hits.push(`${full}: ${needle}`);
    }
  };
  await walk(dir);
  return hits;
}

/** Pids of live (not zombie) processes whose command line contains `text`. */
export async function processesWith(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
    const [cmdline, status] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''), readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')]);
    const state = status.slice(status.lastIndexOf(')') + 2).split(' ')[0];
    if (state !== 'Z' && cmdline.split('\0').join(' ').includes(text)) found.push(Number(pid));
  }
  return found;
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The user's checkout as `git status` sees it, untracked files included. */
export function porcelain(repo: string): string {
  return execFileSync('git', ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=all'], { cwd: repo, encoding: 'utf8' });
}
