/**
 * The spec's JSON Schema, generated from the same zod schema that validates it, for editors:
 * `ratchet schema > ratchet.schema.json` and a first line in ratchet.yaml of
 * `# yaml-language-server: $schema=./ratchet.schema.json`.
 */
import { z } from 'zod';
import { specSchema } from '../domain/spec.js';

/** Names this version of the schema; a URN because the project has no schema URL to serve. */
export const SPEC_SCHEMA_ID = 'urn:ratchet:spec:v1';

export function specJsonSchema(): Record<string, unknown> {
  // Input side: what a user writes (durations as `30s`, optional keys with defaults).
  const schema = z.toJSONSchema(specSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  const { $schema, ...rest } = schema;
  return {
    $schema,
    $id: SPEC_SCHEMA_ID,
    title: 'ratchet.yaml',
    description: 'The spec of a ratchet target: what to improve, the checks a candidate must pass, the bench that measures it, the budget and the agent.',
    ...rest,
  };
}
