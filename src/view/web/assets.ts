/**
 * The page's files: ours from `static/`, and library files served straight from node_modules,
 * so the page never loads anything from another origin.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Served under /vendor/<name>: package-relative paths, resolved through Node's resolution. */
const VENDOR: Record<string, string> = {
  'diff2html.min.js': 'diff2html/bundles/js/diff2html.min.js',
  'diff2html.min.css': 'diff2html/bundles/css/diff2html.min.css',
};

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * `static/` beside this module when run from source; from a build in dist/view/web, the copy in
 * src/ of the same package (tsc does not copy non-TypeScript files).
 */
export function staticDir(): string {
  const candidates = [join(here, 'static'), join(here, '..', '..', '..', 'src', 'view', 'web', 'static')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

const SAFE_NAME = /^[\w-]+(?:\.[\w-]+)*$/;

async function load(path: string): Promise<Asset | undefined> {
  const type = TYPES[extname(path)];
  if (type === undefined) return undefined;
  try {
    return { body: await readFile(path), type };
  } catch {
    return undefined;
  }
}

export async function staticAsset(name: string): Promise<Asset | undefined> {
  if (!SAFE_NAME.test(name)) return undefined;
  return load(join(staticDir(), name));
}

export async function vendorAsset(name: string): Promise<Asset | undefined> {
  const specifier = VENDOR[name];
  if (specifier === undefined) return undefined;
  try {
    return await load(require.resolve(specifier));
  } catch {
    return undefined;
  }
}
