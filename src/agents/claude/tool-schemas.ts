/**
 * The agent's tools as zod schemas: one source for the JSON Schema the model sees and for the
 * validation of what it sends back, so a malformed call gets a precise error result.
 */
import { z } from 'zod';
import type { Tool } from '@anthropic-ai/sdk/resources/messages/messages.js';

const path = z.string().describe('Path relative to the repository root, e.g. src/main.js.');

export const TOOL_SCHEMAS = {
  list_files: z.object({
    dir: z.string().optional().describe('Only files under this folder (relative to the repository root).'),
    glob: z.string().optional().describe('Only files whose path matches this glob, e.g. **/*.ts.'),
  }),
  read_file: z.object({
    path,
    start_line: z.int().min(1).optional().describe('First line to show (1-based).'),
    end_line: z.int().min(1).optional().describe('Last line to show (inclusive).'),
  }),
  search: z.object({
    pattern: z.string().min(1).describe('Extended regular expression (git grep -E).'),
    path: z.string().optional().describe('Only search under this path or pathspec.'),
    ignore_case: z.boolean().optional(),
  }),
  edit_file: z.object({
    path,
    old_string: z.string().min(1).describe('Exact text to replace, including whitespace; must occur exactly once unless replace_all.'),
    new_string: z.string().describe('Replacement text.'),
    replace_all: z.boolean().optional().describe('Replace every occurrence instead of exactly one.'),
  }),
  write_file: z.object({
    path,
    content: z.string().describe('The whole new content of the file.'),
  }),
  run_command: z.object({
    command: z.string().min(1).describe('Shell command, run with sh -c in the repository root.'),
  }),
  finish: z.object({
    description: z.string().min(1).describe('One line saying what the change does; it becomes the commit message.'),
    hypothesis: z.string().min(1).describe('Why the change should improve the metric.'),
  }),
} as const;

export type ToolName = keyof typeof TOOL_SCHEMAS;
export type ToolInput<N extends ToolName> = z.output<(typeof TOOL_SCHEMAS)[N]>;

const DESCRIPTIONS: Record<ToolName, string> = {
  list_files: 'List the files of the repository (tracked and untracked, not ignored). Files you may not change are marked.',
  read_file: 'Read a file with numbered lines. Long files are cut; ask for a line range to see more.',
  search: 'Search the repository with git grep; prints path:line:text for each match.',
  edit_file:
    'Replace an exact, unique string in a file. Copy old_string exactly from read_file output (without the line numbers), with enough context to occur once.',
  write_file: 'Create a file or replace its whole content.',
  run_command:
    'Run a shell command in the repository root (build, tests, a quick benchmark). Time-limited; output is cut to its end. Does not see your API keys.',
  finish: 'End the session: your change in the working tree is submitted for evaluation. Call it exactly once, when the change is complete.',
};

export function isToolName(name: string): name is ToolName {
  return Object.hasOwn(TOOL_SCHEMAS, name);
}

/** Validated input, or a message telling the model what was wrong and what is expected. */
export function parseToolInput<N extends ToolName>(name: N, input: unknown): { ok: true; value: ToolInput<N> } | { ok: false; message: string } {
  const result = TOOL_SCHEMAS[name].safeParse(input);
  if (result.success) return { ok: true, value: result.data as ToolInput<N> };
  const expected = JSON.stringify(inputSchema(name).properties);
  return { ok: false, message: `Invalid input for ${name}:\n${z.prettifyError(result.error)}\nExpected an object with: ${expected}` };
}

function inputSchema(name: ToolName): Tool.InputSchema {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(TOOL_SCHEMAS[name]) as Record<string, unknown>;
  return { ...schema, type: 'object' };
}

/** Tool definitions for the request; the last one carries the cache breakpoint for all. */
export function toolDefinitions(): Tool[] {
  const names = Object.keys(TOOL_SCHEMAS) as ToolName[];
  return names.map((name, i) => ({
    name,
    description: DESCRIPTIONS[name],
    input_schema: inputSchema(name),
    ...(i === names.length - 1 ? { cache_control: { type: 'ephemeral' as const } } : {}),
  }));
}
