/**
 * The agent's transcript, `<experimentDir>/agent.jsonl`: one JSON line per request, response,
 * tool result, retry and outcome, each with `v` (the line format's version) and a timestamp.
 *
 * Version 1. A request line holds only what the request added to the conversation (the first
 * prompt, then tool results), so the file grows linearly with the conversation.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NO_REDACTION, type Redactor } from '../../util/redact.js';

export const TRANSCRIPT_VERSION = 1;
export const TRANSCRIPT_FILE = 'agent.jsonl';

export type TranscriptEntry = { type: string } & Record<string, unknown>;

export class Transcript {
  private ready: Promise<void> | undefined;
  // Appends are chained so lines keep their order even when a caller does not await.
  private last: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly redactor: Redactor = NO_REDACTION,
  ) {}

  write(entry: TranscriptEntry): Promise<void> {
    this.ready ??= mkdir(dirname(this.path), { recursive: true }).then(() => undefined);
    // Redacted after serialising: a secret inside a JSON string stays a valid JSON string.
    const line = `${this.redactor.redact(JSON.stringify({ v: TRANSCRIPT_VERSION, t: new Date().toISOString(), ...entry }))}\n`;
    const ready = this.ready;
    this.last = this.last.then(async () => {
      await ready;
      await appendFile(this.path, line);
    });
    return this.last;
  }
}
