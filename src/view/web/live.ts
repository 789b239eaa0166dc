/**
 * Live updates: follow a run's events.jsonl as it grows and push each new event to the pages
 * watching it, as server-sent events. fs.watch gives low latency; a poll catches what it misses
 * (network filesystems, editors that replace the file, platforms without inotify).
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { parseEvents, type RunEvent } from '../../domain/events.js';

export interface TailListener {
  events(events: RunEvent[]): void;
  /** The file shrank or was replaced: what was sent before no longer holds. */
  reset(): void;
}

/** Follows one events.jsonl from its current end; only whole lines are parsed. */
export class EventTail {
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly listener: TailListener,
    private readonly pollMs: number,
  ) {}

  async start(): Promise<void> {
    this.offset = await stat(this.file).then((s) => s.size, () => 0);
    try {
      this.watcher = watch(this.file, () => this.check());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No watcher here; the poll below still sees every change.
    }
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }

  /** Coalesces bursts: one read at a time, and one more after it if anything changed meanwhile. */
  check(): void {
    if (this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.read()
      .catch(() => undefined)
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.check();
        }
      });
  }

  private async read(): Promise<void> {
    const size = await stat(this.file).then((s) => s.size, () => 0);
    if (size < this.offset) {
      this.offset = 0;
      this.pending = Buffer.alloc(0);
      this.listener.reset();
    }
    if (size === this.offset) return;
    const handle = await open(this.file, 'r');
    let chunk: Buffer;
    try {
      chunk = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset);
      chunk = chunk.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    // Only whole lines are parsed; bytes after the last newline wait for the rest of their line.
    this.offset += chunk.length;
    this.pending = Buffer.concat([this.pending, chunk]);
    const end = this.pending.lastIndexOf(0x0a) + 1;
    if (end === 0) return;
    const text = this.pending.subarray(0, end).toString('utf8');
    this.pending = this.pending.subarray(end);
    const { events } = parseEvents(text);
    if (events.length > 0 && !this.closed) this.listener.events(events);
  }
}

interface Channel {
  tail: EventTail;
  clients: Set<ServerResponse>;
}

/** One tail per watched run, shared by every page open on it; closed when the last page leaves. */
export class LiveHub {
  private readonly channels = new Map<string, Channel>();
  private readonly heartbeat: NodeJS.Timeout;
  private sequence = 0;

  constructor(private readonly pollMs: number) {
    // Comments keep idle connections open through proxies and let dead ones be noticed.
    this.heartbeat = setInterval(() => this.broadcastAll(': ping\n\n'), 15_000);
    this.heartbeat.unref();
  }

  async subscribe(runId: string, dir: string, res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let channel = this.channels.get(runId);
    if (channel === undefined) {
      const clients = new Set<ServerResponse>();
      const tail = new EventTail(join(dir, 'events.jsonl'), {
        events: (events) => {
          for (const event of events) this.send(clients, `event: run-event\nid: ${++this.sequence}\ndata: ${JSON.stringify(event)}\n\n`);
        },
        reset: () => this.send(clients, 'event: reset\ndata: {}\n\n'),
      }, this.pollMs);
      channel = { tail, clients };
      this.channels.set(runId, channel);
      await tail.start();
    }
    const joined = channel;
    joined.clients.add(res);
    res.on('close', () => {
      joined.clients.delete(res);
      if (joined.clients.size === 0 && this.channels.get(runId) === joined) {
        joined.tail.close();
        this.channels.delete(runId);
      }
    });
    // The page refetches the whole state on hello, so nothing between its load and now is lost.
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ runId })}\n\n`);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const channel of this.channels.values()) {
      channel.tail.close();
      for (const res of channel.clients) res.end();
    }
    this.channels.clear();
  }

  private send(clients: Set<ServerResponse>, message: string): void {
    for (const res of clients) res.write(message);
  }

  private broadcastAll(message: string): void {
    for (const channel of this.channels.values()) this.send(channel.clients, message);
  }
}
