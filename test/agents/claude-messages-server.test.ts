import { afterEach, describe, expect, it } from 'vitest';
import { failWith, reply, startMessagesServer, text, type MessagesServer } from '../helpers/messages-server.js';

let server: MessagesServer | undefined;
afterEach(async () => server?.close());

async function post(body: unknown): Promise<{ status: number; json: { error?: { message: string }; content?: unknown } }> {
  const response = await fetch(`${server!.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as { error?: { message: string } } };
}

const request = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };

describe('scripted Messages API server', () => {
  it('serves its steps in order and records the requests', async () => {
    server = await startMessagesServer([failWith(529, { headers: { 'retry-after': '1' } }), reply([text('hello')])]);
    expect((await post(request)).status).toBe(529);
    const ok = await post(request);
    expect(ok).toEqual({ status: 200, json: expect.objectContaining({ content: [{ type: 'text', text: 'hello' }], stop_reason: 'end_turn' }) as unknown });
    expect(server.requests.map((r) => r.body.model)).toEqual(['m', 'm']);
    expect(() => server!.assertDone()).not.toThrow();
  });

  it('fails assertDone for steps never served', async () => {
    server = await startMessagesServer([reply([text('a')]), failWith(429)]);
    await post(request);
    expect(() => server!.assertDone()).toThrow(/step 1 \(error 429\) never served/);
  });

  it('answers a request beyond the script with a 400 and reports it', async () => {
    server = await startMessagesServer([]);
    const response = await post(request);
    expect(response.status).toBe(400);
    expect(() => server!.assertDone()).toThrow(/request 0: beyond the script/);
  });

  it('reports a request a step does not expect', async () => {
    server = await startMessagesServer([reply([text('a')], { expect: (r) => expect(r.body.model).toBe('other') })]);
    expect((await post(request)).status).toBe(400);
    expect(() => server!.assertDone()).toThrow(/request 0 \(step 0\):.*expected 'm' to be 'other'/);
  });
});
