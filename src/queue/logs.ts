/**
 * Stage logs travel through Redis: the worker tails the log its stage writes on its own disk
 * (already capped and redacted by the command runner, so no secret leaves the worker) and adds
 * what is new to a stream per job; the orchestrator reads the stream and writes each chunk at
 * its offset in the run folder. Writing at offsets makes reading a chunk twice harmless; a new
 * attempt of the job (another worker after a stall) starts the file again.
 */
import { randomUUID } from 'node:crypto';
import { open, stat, truncate, writeFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';

/** What one stage job ships at most; the rest stays on the worker, and the log says so. */
export const MAX_SHIPPED_LOG_BYTES = 10 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;
/** How long a job's log stream outlives its last chunk: as long as finished jobs are kept. */
const STREAM_TTL_S = 7 * 24 * 3600;

export interface LogChunk {
  attempt: string;
  offset: number;
  data: Buffer;
}

/** The worker's side: ships `file` as it grows, until `stop()`, which sends the rest. */
export class LogShipper {
  private readonly attempt = randomUUID();
  private sent = 0;
  private cut = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly file: string,
    /** Where the whole log stays, for the note when it is cut. */
    private readonly where: string,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Empties the local file (a new attempt starts a new log) and starts tailing it. */
  async start(everyMs = 500): Promise<void> {
    await writeFile(this.file, '');
    this.timer = setInterval(() => void this.flush().catch(this.onError), everyMs);
  }

  /** Sends what is left; the orchestrator has the whole log once this resolves. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private flush(): Promise<void> {
    this.flushing = this.flushing.catch(() => undefined).then(() => this.send());
    return this.flushing;
  }

  private async send(): Promise<void> {
    if (this.cut) return;
    const size = await stat(this.file).then((s) => s.size, () => 0);
    if (size <= this.sent) return;
    const handle = await open(this.file, 'r');
    try {
      while (this.sent < size && !this.cut) {
        const room = MAX_SHIPPED_LOG_BYTES - this.sent;
        if (room <= 0) {
          const note = Buffer.from(`\n==> ratchet: the log is cut here at ${MAX_SHIPPED_LOG_BYTES} bytes; the whole of it stays on ${this.where}\n`);
          await this.add(this.sent, note);
          this.cut = true;
          break;
        }
        const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, size - this.sent, room));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.sent);
        if (bytesRead === 0) break;
        await this.add(this.sent, buffer.subarray(0, bytesRead));
        this.sent += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }

  private async add(offset: number, data: Buffer): Promise<void> {
    await this.redis.multi().xadd(this.key, '*', 'attempt', this.attempt, 'offset', String(offset), 'data', data.toString('base64')).expire(this.key, STREAM_TTL_S).exec();
  }
}

/** The orchestrator's side: writes a job's stream into `file` as it comes, from the start. */
export class LogReceiver {
  private last = '-';
  private attempt: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly file: string,
    private readonly onError: (error: Error) => void,
  ) {}

  start(everyMs = 500): void {
    this.timer = setInterval(() => void this.poll().catch(this.onError), everyMs);
  }

  /** Reads what is left (the job has finished, so its worker sent it all) and stops. */
  async finish(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.poll();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private poll(): Promise<void> {
    this.reading = this.reading.catch(() => undefined).then(() => this.read());
    return this.reading;
  }

  private async read(): Promise<void> {
    for (;;) {
      const start = this.last === '-' ? '-' : `(${this.last}`;
      const entries = await this.redis.xrange(this.key, start, '+', 'COUNT', 64);
      if (entries.length === 0) return;
      for (const [id, fields] of entries) {
        const chunk = parseChunk(fields);
        if (chunk !== undefined) await this.write(chunk);
        this.last = id;
      }
    }
  }

  private async write(chunk: LogChunk): Promise<void> {
    if (chunk.attempt !== this.attempt) {
      // The first chunk of an attempt: what an earlier attempt wrote is not this log.
      this.attempt = chunk.attempt;
      await writeFile(this.file, '', { flag: 'a' });
      await truncate(this.file, 0);
    }
    const handle = await open(this.file, 'r+');
    try {
      await handle.write(chunk.data, 0, chunk.data.length, chunk.offset);
    } finally {
      await handle.close();
    }
  }
}

function parseChunk(fields: readonly string[]): LogChunk | undefined {
  const value = (name: string): string | undefined => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const attempt = value('attempt');
  const offset = Number(value('offset'));
  const data = value('data');
  if (attempt === undefined || data === undefined || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  return { attempt, offset, data: Buffer.from(data, 'base64') };
}
