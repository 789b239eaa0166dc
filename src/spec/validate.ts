/**
 * The schema stage of spec validation: the whole input against `specSchema`, every problem at
 * once, in ratchet's wording (see issues.ts), unknown keys one by one with a suggestion.
 */
import { z } from 'zod';
import { ValidationError, type Issue } from '../domain/errors.js';
import { didYouMean, specErrorMap, type PathSegment, type Problem } from './issues.js';
import { specSchema, type Spec } from '../domain/spec.js';

export const SCHEMA_HINT = 'run `ratchet schema` to see every key of ratchet.yaml with its type and default';

export type SpecCheck = { ok: true; spec: Spec } | { ok: false; problems: Problem[] };

export function checkSpec(input: unknown): SpecCheck {
  const result = specSchema.safeParse(input, { error: specErrorMap, reportInput: true });
  if (result.success) return { ok: true, spec: result.data };
  const problems: Problem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(path, input);
      for (const key of issue.keys) problems.push({ path: [...path, key], message: `unknown key${didYouMean(key, known)}` });
    } else {
      problems.push({ path, message: issue.message });
    }
  }
  return { ok: false, problems };
}

/** Throws the one error a caller shows for a bad spec; nothing has run. */
export function specError(source: string, issues: readonly Issue[]): ValidationError {
  return new ValidationError(source, issues, SCHEMA_HINT);
}

/** The sub-schema that validates the value at `path` of `input` (for key lists and key order). */
export function schemaAt(path: readonly PathSegment[], input: unknown): z.ZodType | undefined {
  let schema: z.ZodType | undefined = specSchema;
  let value = input;
  for (let i = 0; ; i++) {
    schema = unwrap(schema, value);
    if (schema === undefined || i === path.length) return schema;
    const segment = path[i]!;
    value = typeof value === 'object' && value !== null ? (value as Record<PathSegment, unknown>)[segment] : undefined;
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(segment)];
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    else return undefined;
  }
}

/** Strips wrappers and picks the branch of a discriminated union the value names. */
function unwrap(schema: z.ZodType | undefined, value: unknown): z.ZodType | undefined {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else if (current instanceof z.ZodDiscriminatedUnion) {
      const discriminator = current.def.discriminator;
      const kind = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[discriminator] : undefined;
      current = (current.options as z.ZodType[]).find(
        (option) => option instanceof z.ZodObject && (option.shape as Record<string, z.ZodType>)[discriminator]?.safeParse(kind).success === true,
      );
    } else if (current instanceof z.ZodUnion && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      // `setup`: a command or an object; a mapping is written for the object.
      const object = (current.options as z.ZodType[]).find((option) => option instanceof z.ZodObject);
      if (object === undefined) return current;
      current = object;
    } else {
      return current;
    }
  }
}

/** The keys the schema allows at `path`, in schema order. */
export function knownKeys(path: readonly PathSegment[], input: unknown): string[] {
  const schema = schemaAt(path, input);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}
