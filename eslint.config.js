// Lint: type-aware rules that catch what strict TypeScript does not (floating promises, any),
// plus no console in src/ outside the CLI's output layer, no import cycles, and the layers'
// arrows (docs/architecture.md, "Layers"): cli → app → loop → plan → domain.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

// Every folder of src/; a new one must be placed in the layers here, or lint refuses to start.
const FOLDERS = ['agents', 'app', 'cli', 'domain', 'eval', 'git', 'loop', 'plan', 'proc', 'queue', 'spec', 'store', 'testing', 'util', 'view'];
const unplaced = readdirSync(join(import.meta.dirname, 'src'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !FOLDERS.includes(entry.name))
  .map((entry) => `src/${entry.name}`);
if (unplaced.length > 0) throw new Error(`eslint.config.js: add ${unplaced.join(', ')} to FOLDERS and the layer rules`);

/** `folder` may import from src/ only the folders in `allowed` (itself always). */
const onlyFrom = (folder, allowed, why) => ({
  target: `./src/${folder}`,
  from: './src',
  except: [folder, ...allowed].map((f) => `./${f}`),
  message: why,
});

/** Nothing outside `allowed` may import `folder`. */
const noneBut = (folder, allowed, why) =>
  FOLDERS.filter((f) => f !== folder && !allowed.includes(f)).map((f) => ({ target: `./src/${f}`, from: `./src/${folder}`, message: why }));

const LAYERS = [
  onlyFrom('domain', [], 'domain/ is the bottom layer: it imports nothing of ours (zod and node: are fine).'),
  onlyFrom('plan', ['domain'], 'plan/ holds pure rules: it imports only domain/.'),
  onlyFrom('loop', ['domain', 'plan'], 'loop/ talks to ports: it imports only domain/ and plan/; adapters are handed in by app/.'),
  ...noneBut('loop', ['app', 'cli', 'testing'], 'adapters and views do not drive the loop: app/ runs it.'),
  ...noneBut('testing', [], 'src/testing holds fakes for tests: no source imports them.'),
  ...noneBut('app', ['cli'], 'only cli/ calls app/.'),
  ...noneBut('cli', ['app'], 'cli/ is the top: nothing but cli/ and app/ imports it.'),
];

export default tseslint.config(
  { ignores: ['dist/**', 'scratch/**', 'node_modules/**', 'experiments/**', 'targets/**', 'coverage/**', 'bin/**', 'src/view/web/static/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // The sources import `./x.js` for `./x.ts` (NodeNext); without the alias import-x resolves
    // nothing of ours, and no-cycle and no-restricted-paths pass without looking.
    // import-x also reads only the extensions it is told of: .ts must be named for no-cycle to follow it.
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: LAYERS }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/cli/output.ts', 'bench/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
