/**
 * A local server that speaks the Messages API from a script, for exercising the real SDK:
 * each request takes the next step (a reply, plain or streamed as the request asks; an error
 * status; or a hang until the client gives up). Every request is recorded for assertions.
 * A request beyond the script, or one a step's `expect` rejects, is answered with a 400 and
 * remembered; `assertDone()` throws listing those problems and any steps left unserved.
 * (openai-agents-js' scripted model, over HTTP.)
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ScriptBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

export interface ScriptUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

type Expectation = (request: RecordedRequest) => void | boolean;

export interface ReplyStep {
  reply: { content: ScriptBlock[]; stop_reason?: string; usage?: ScriptUsage; model?: string };
  expect?: Expectation;
  delayMs?: number;
}

export interface ErrorStep {
  error: { status: number; type?: string; message?: string; headers?: Record<string, string>; inStream?: boolean };
  expect?: Expectation;
}

/** Never answers; the request ends when the client aborts it (or the server closes). */
export interface HangStep {
  hang: true;
  expect?: Expectation;
}

export type Step = ReplyStep | ErrorStep | HangStep;

export type RequestBlock = { type: string; text?: string; cache_control?: unknown; tool_use_id?: string; content?: unknown; is_error?: boolean; name?: string; id?: string; input?: unknown };

export interface RequestBody {
  model: string;
  max_tokens: number;
  stream?: boolean;
  temperature?: number;
  system?: string | RequestBlock[];
  tools?: { name: string; description?: string; input_schema: unknown; cache_control?: unknown }[];
  tool_choice?: { type: string; name?: string };
  messages: { role: 'user' | 'assistant'; content: string | RequestBlock[] }[];
}

export interface RecordedRequest {
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: RequestBody;
  stream: boolean;
}

export interface MessagesServer {
  url: string;
  requests: RecordedRequest[];
  /** Throws when a request was unexpected or rejected by a step, or steps are left. */
  assertDone(): void;
  close(): Promise<void>;
}

// --- builders for scripts -------------------------------------------------------------------

let toolIds = 0;
export const text = (value: string): ScriptBlock => ({ type: 'text', text: value });
export const toolUse = (name: string, input: unknown, id = `toolu_${String(++toolIds).padStart(4, '0')}`): ScriptBlock => ({ type: 'tool_use', id, name, input });
export function reply(content: ScriptBlock[], options: Omit<ReplyStep['reply'], 'content'> & { expect?: Expectation; delayMs?: number } = {}): ReplyStep {
  const { expect, delayMs, ...rest } = options;
  const stop_reason = rest.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
  return { reply: { content, ...rest, stop_reason }, ...(expect ? { expect } : {}), ...(delayMs === undefined ? {} : { delayMs }) };
}
export const failWith = (status: number, options: Omit<ErrorStep['error'], 'status'> = {}): ErrorStep => ({ error: { status, ...options } });

/** The tool results of a request's last message. */
export function toolResults(request: RecordedRequest): RequestBlock[] {
  const last = request.body.messages.at(-1);
  return last === undefined || typeof last.content === 'string' ? [] : last.content.filter((b) => b.type === 'tool_result');
}

// --- the server -----------------------------------------------------------------------------

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export async function startMessagesServer(script: readonly Step[]): Promise<MessagesServer> {
  const steps = [...script];
  const requests: RecordedRequest[] = [];
  const problems: string[] = [];
  let served = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const index = requests.length;
      let body: RequestBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RequestBody;
      } catch {
        problems.push(`request ${index}: body is not JSON`);
        sendError(res, 400, 'invalid_request_error', 'body is not JSON', {});
        return;
      }
      const request: RecordedRequest = { index, method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, stream: body.stream === true };
      requests.push(request);
      if (request.method !== 'POST' || !request.path.startsWith('/v1/messages')) {
        problems.push(`request ${index}: unexpected ${request.method} ${request.path}`);
        sendError(res, 404, 'not_found_error', `no route ${request.method} ${request.path}`, {});
        return;
      }
      const step = steps[served];
      if (step === undefined) {
        problems.push(`request ${index}: beyond the script (${steps.length} steps)`);
        sendError(res, 400, 'invalid_request_error', `scripted server: request ${index} is beyond the script`, {});
        return;
      }
      served += 1;
      if (step.expect !== undefined) {
        let verdict: string | undefined;
        try {
          if (step.expect(request) === false) verdict = 'expectation returned false';
        } catch (error) {
          verdict = describeFailure(error);
        }
        if (verdict !== undefined) {
          problems.push(`request ${index} (step ${served - 1}): ${verdict}`);
          sendError(res, 400, 'invalid_request_error', `scripted server: ${verdict}`, {});
          return;
        }
      }
      if ('hang' in step) return;
      if ('error' in step) {
        const { status, type, message, headers, inStream } = step.error;
        const errorType = type ?? ERROR_TYPES[status] ?? 'api_error';
        if (inStream === true && request.stream) streamError(res, body.model, errorType, message ?? errorType);
        else sendError(res, status, errorType, message ?? errorType, headers ?? {});
        return;
      }
      const send = (): void => (request.stream ? streamReply(res, body.model, step.reply, index) : jsonReply(res, body.model, step.reply, index));
      if (step.delayMs === undefined) send();
      else setTimeout(send, step.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    assertDone() {
      const left = steps.slice(served).map((s, i) => `step ${served + i} (${'hang' in s ? 'hang' : 'error' in s ? `error ${s.error.status}` : 'reply'}) never served`);
      const all = [...problems, ...left];
      if (all.length > 0) throw new Error(`scripted Messages API server:\n  ${all.join('\n  ')}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function fullUsage(usage: ScriptUsage = {}): Required<ScriptUsage> {
  return {
    input_tokens: usage.input_tokens ?? 100,
    output_tokens: usage.output_tokens ?? 20,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
  };
}

function jsonReply(res: ServerResponse, model: string, reply: ReplyStep['reply'], index: number): void {
  const message = {
    id: `msg_test_${index}`,
    type: 'message',
    role: 'assistant',
    model: reply.model ?? model,
    content: reply.content,
    stop_reason: reply.stop_reason ?? 'end_turn',
    stop_sequence: null,
    usage: fullUsage(reply.usage),
  };
  res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_test_${index}` });
  res.end(JSON.stringify(message));
}

/** The wire format of a streamed reply: message_start, blocks (start, deltas, stop), message_delta, message_stop. */
function streamReply(res: ServerResponse, model: string, reply: ReplyStep['reply'], index: number): void {
  const usage = fullUsage(reply.usage);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_test_${index}` });
  const send = (event: string, data: unknown): boolean => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  send('message_start', {
    type: 'message_start',
    message: {
      id: `msg_test_${index}`,
      type: 'message',
      role: 'assistant',
      model: reply.model ?? model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  send('ping', { type: 'ping' });
  reply.content.forEach((block, i) => {
    if (block.type === 'text') {
      send('content_block_start', { type: 'content_block_start', index: i, content_block: { type: 'text', text: '' } });
      for (const piece of halves(block.text)) send('content_block_delta', { type: 'content_block_delta', index: i, delta: { type: 'text_delta', text: piece } });
    } else {
      send('content_block_start', { type: 'content_block_start', index: i, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      for (const piece of halves(JSON.stringify(block.input))) {
        send('content_block_delta', { type: 'content_block_delta', index: i, delta: { type: 'input_json_delta', partial_json: piece } });
      }
    }
    send('content_block_stop', { type: 'content_block_stop', index: i });
  });
  send('message_delta', { type: 'message_delta', delta: { stop_reason: reply.stop_reason ?? 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

/** An error reported inside a 200 stream, as the API does when it overloads mid-response. */
function streamError(res: ServerResponse, model: string, type: string, message: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_err', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: fullUsage({ output_tokens: 1 }) } })}\n\n`);
  res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`);
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: 'req_test_error' }));
}

/** Two pieces (the first may be empty), so deltas are really accumulated. */
function halves(value: string): string[] {
  const cut = Math.floor(value.length / 2);
  return [value.slice(0, cut), value.slice(cut)];
}

/** An assertion's message, with what it compared when it says (vitest elides long values). */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { actual, expected } = error as Error & { actual?: unknown; expected?: unknown };
  if (actual === undefined && expected === undefined) return error.message;
  return `${error.message}\n    actual:   ${JSON.stringify(actual)}\n    expected: ${JSON.stringify(expected)}`;
}
