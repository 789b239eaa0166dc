/**
 * The `claude` agent: a tool-use conversation over the Messages API in the experiment's
 * worktree, ended by the `finish` tool.
 *
 * Turn limit: the last allowed request forces a `finish` call (`tool_choice`), so a model that
 * ran long still describes what it did and its change is evaluated; a server that ignores
 * `tool_choice` and still does not finish gives `crash: no finish after N turns`.
 * An abort throws AbortedError at once (the request is cancelled, a running command killed).
 */
import { join } from 'node:path';
import type Anthropic from '@anthropic-ai/sdk';
import type { ContentBlockParam, Message, MessageParam, ToolResultBlockParam, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { AbortedError, isAbortError } from '../../domain/errors.js';
import type { CommandRunner } from '../../domain/command-runner.js';
import type { ProposalContext, ProposalOutcome, Proposer } from '../../domain/proposal.js';
import type { Usage } from '../../domain/words.js';
import { renderPrompt } from '../prompt.js';
import { commandLimits } from '../../domain/spec.js';
import { agentSandbox } from '../sandbox.js';
import type { Redactor } from '../../util/redact.js';
import { createClient, type ClaudeAgentSpec } from './client.js';
import { listWorktreeFiles, worktreeChanged } from './git-files.js';
import { EPHEMERAL, assistantContent, requestParams, sendRequest, type Conversation } from './request.js';
import { addUsage, priceFor, usageOf, ZERO_USAGE } from './pricing.js';
import { DEFAULT_RETRY, withRetries, type RetryPolicy } from './retry.js';
import { isEditable } from '../../plan/path-policy.js';
import { parseToolInput, toolDefinitions } from './tool-schemas.js';
import { runTool, type ToolContext, type ToolOutput } from './tools.js';
import { TRANSCRIPT_FILE, Transcript } from './transcript.js';

export const COMMAND_LOG_FILE = 'agent-commands.log';
const DESCRIPTION_CHARS = 200;
/** Never passed to the agent's commands, whatever the spec's `env` allows. */
const SECRET_ENV = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];

export interface ClaudeProposerOptions {
  /** Where the key and base URL come from; ratchet's environment by default. */
  env?: NodeJS.ProcessEnv;
  /** Overrides the resolved base URL (tests point it at a local server). */
  baseURL?: string;
  /** Runs `run_command`: the one sandboxed runner. */
  runner: CommandRunner;
  /** Keeps secrets out of the transcript and of what the model is shown. */
  redactor: Redactor;
  /** Backoff between retries (tests make it tiny); the count is `agent.max_retries`. */
  retry?: Partial<Omit<RetryPolicy, 'maxRetries'>>;
}

export class ClaudeProposer implements Proposer {
  readonly kind = 'claude';
  private readonly client: Anthropic;
  private readonly runner: CommandRunner;
  private readonly retry: RetryPolicy;
  private readonly redactor: Redactor;

  constructor(
    private readonly agent: ClaudeAgentSpec,
    options: ClaudeProposerOptions,
  ) {
    const env = options.env ?? process.env;
    this.client = createClient(agent, env, options.baseURL === undefined ? {} : { baseURL: options.baseURL });
    this.runner = options.runner;
    this.redactor = options.redactor;
    this.retry = { ...DEFAULT_RETRY, ...options.retry, maxRetries: agent.max_retries };
  }

  async propose(context: ProposalContext, signal: AbortSignal): Promise<ProposalOutcome> {
    const transcript = new Transcript(join(context.experimentDir, TRANSCRIPT_FILE), this.redactor);
    const session = new Session(this.agent, this.client, this.retry, context, transcript, {
      worktree: context.worktree,
      policy: { editable: context.spec.editable, protected: context.spec.protected },
      runner: this.runner,
      commandTimeoutMs: this.agent.command_timeout,
      commandLog: join(context.experimentDir, COMMAND_LOG_FILE),
      allowEnv: context.spec.env,
      denyEnv: SECRET_ENV,
      // Offline, like the checks: the model's commands need the worktree, not the internet.
      sandbox: async () => agentSandbox(context, await listWorktreeFiles(context.worktree), { network: false }),
      redactor: this.redactor,
      limits: commandLimits(context.spec),
      signal,
    });
    try {
      const outcome = await session.run();
      await transcript.write({ type: 'outcome', outcome });
      return outcome;
    } catch (error) {
      if (isAbortError(error) || signal.aborted) {
        await transcript.write({ type: 'aborted', usage: session.usage }).catch(() => undefined);
        throw error instanceof AbortedError ? error : new AbortedError();
      }
      await transcript.write({ type: 'error', message: error instanceof Error ? error.message : String(error) }).catch(() => undefined);
      throw error;
    }
  }
}

/** One proposal's conversation. */
class Session {
  usage: Usage = ZERO_USAGE;
  private warnedUnchanged = false;

  constructor(
    private readonly agent: ClaudeAgentSpec,
    private readonly client: Anthropic,
    private readonly retry: RetryPolicy,
    private readonly context: ProposalContext,
    private readonly transcript: Transcript,
    private readonly tools: ToolContext,
  ) {}

  async run(): Promise<ProposalOutcome> {
    const { signal, policy } = this.tools;
    const files = (await listWorktreeFiles(this.context.worktree)).filter((f) => isEditable(f, policy));
    const prompt = renderPrompt(this.context, { files, finish: 'tool' });
    const conversation: Conversation = {
      system: prompt.system,
      tools: toolDefinitions(),
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: prompt.stable, cache_control: EPHEMERAL },
            { type: 'text', text: prompt.volatile },
          ],
        },
      ],
    };
    await this.transcript.write({ type: 'prompt', experiment: this.context.experiment, system: prompt.system, stable: prompt.stable, volatile: prompt.volatile });
    const maxTurns = this.agent.max_turns;
    for (let turn = 1; turn <= maxTurns; turn += 1) {
      // With a single turn there is nothing to wrap up: forcing finish would forbid any work.
      const last = turn === maxTurns && maxTurns > 1;
      if (last) appendText(conversation.messages, 'This is your last turn: call finish now. The change as it stands in the working tree will be evaluated.');
      const response = await this.call(conversation, turn, last);
      if (!response.ok) return { kind: 'failed', verdict: 'crash', reason: response.reason, usage: this.usage };
      const message = response.message;
      conversation.messages.push({ role: 'assistant', content: assistantContent(message.content) });
      if (message.stop_reason === 'refusal') {
        return { kind: 'failed', verdict: 'crash', reason: 'the model refused the task (stop_reason: refusal)', usage: this.usage };
      }
      const calls = message.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
      if (calls.length === 0) {
        const cut = message.stop_reason === 'max_tokens' ? 'Your response was cut at max_tokens; keep responses short. ' : '';
        conversation.messages.push({ role: 'user', content: [{ type: 'text', text: `${cut}Use the tools to make your change, then call finish.` }] });
        continue;
      }
      const { results, finish } = await this.runCalls(calls, turn, last);
      if (finish !== undefined) return { kind: 'change', ...finish, usage: this.usage };
      if (signal.aborted) throw new AbortedError();
      conversation.messages.push({ role: 'user', content: results });
    }
    return { kind: 'failed', verdict: 'crash', reason: `no finish after ${maxTurns} turns`, usage: this.usage };
  }

  /** One request with retries; records request, retries and response. */
  private async call(conversation: Conversation, turn: number, forceFinish: boolean): Promise<{ ok: true; message: Message } | { ok: false; reason: string }> {
    const { signal } = this.tools;
    const stream = this.agent.stream ?? true;
    const params = requestParams(this.agent, conversation, forceFinish ? { forceTool: 'finish' } : {});
    const added = turn === 1 ? undefined : conversation.messages.at(-1)?.content;
    await this.transcript.write({ type: 'request', turn, model: params.model, stream, messages: params.messages.length, forceFinish, ...(added === undefined ? {} : { added: summarise(added) }) });
    const result = await withRetries(() => sendRequest(this.client, params, stream, signal), this.retry, signal, (event) =>
      this.transcript.write({ type: 'retry', turn, attempt: event.attempt, delayMs: event.delayMs, status: event.failure.status, error: event.failure.label, message: event.failure.message }),
    );
    if (!result.ok) {
      await this.transcript.write({ type: 'api_error', turn, reason: result.reason, message: result.failure.message });
      return result;
    }
    const message = result.value;
    const price = priceFor(this.agent.model, this.agent.prices) ?? priceFor(message.model, this.agent.prices);
    const usage = usageOf(message.usage, price);
    this.usage = addUsage(this.usage, usage);
    await this.transcript.write({ type: 'response', turn, id: message.id, model: message.model, stop_reason: message.stop_reason, content: message.content, usage, total: this.usage });
    return { ok: true, message };
  }

  /**
   * Runs the turn's tool calls in order. `finish` is honoured only when every other call of the
   * turn succeeded (the model has not seen those results yet) and, unless this is the last
   * turn, when the worktree has changed, or once it was told it has not.
   */
  private async runCalls(calls: readonly ToolUseBlock[], turn: number, last: boolean): Promise<{ results: ToolResultBlockParam[]; finish: { description: string; hypothesis: string } | undefined }> {
    const outputs: (ToolOutput | undefined)[] = [];
    for (const call of calls) {
      if (this.tools.signal.aborted) throw new AbortedError();
      outputs.push(call.name === 'finish' ? undefined : await runTool(call.name, call.input, this.tools));
    }
    let finish: { description: string; hypothesis: string } | undefined;
    const results: ToolResultBlockParam[] = [];
    for (const [i, call] of calls.entries()) {
      let output = outputs[i];
      if (output === undefined) {
        const decided = await this.decideFinish(call.input, outputs, last);
        if ('outcome' in decided) finish = decided.outcome;
        output = decided.output;
      }
      results.push({ type: 'tool_result', tool_use_id: call.id, content: output.content, ...(output.isError ? { is_error: true } : {}) });
      await this.transcript.write({ type: 'tool_result', turn, tool_use_id: call.id, name: call.name, input: call.input, is_error: output.isError, content: output.content });
    }
    return { results, finish };
  }

  private async decideFinish(input: unknown, outputs: readonly (ToolOutput | undefined)[], last: boolean): Promise<{ output: ToolOutput; outcome?: { description: string; hypothesis: string } }> {
    const parsed = parseToolInput('finish', input);
    if (!parsed.ok) return { output: { content: parsed.message, isError: true } };
    if (!last && outputs.some((o) => o?.isError === true)) {
      return { output: { content: 'Not finished: another tool call of this turn failed. Look at its result, fix what is needed, then call finish again.', isError: true } };
    }
    if (!last && !this.warnedUnchanged && !(await worktreeChanged(this.context.worktree))) {
      this.warnedUnchanged = true;
      return { output: { content: 'Not finished: the working tree has no changes. Make your change first; call finish again only if you decide to give up.', isError: true } };
    }
    const description = oneLine(parsed.value.description, DESCRIPTION_CHARS);
    return { output: { content: 'Finished.', isError: false }, outcome: { description, hypothesis: parsed.value.hypothesis.trim() } };
  }
}

/** Adds a text block to the last (user) message. */
function appendText(messages: MessageParam[], text: string): void {
  const last = messages.at(-1);
  if (last === undefined || last.role !== 'user') return;
  const content: ContentBlockParam[] = typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : [...last.content];
  content.push({ type: 'text', text });
  messages[messages.length - 1] = { ...last, content };
}

/** What a request added, without repeating tool results the transcript already holds. */
function summarise(content: MessageParam['content']): unknown {
  if (typeof content === 'string') return content;
  return content.map((block) => (block.type === 'tool_result' ? { type: 'tool_result', tool_use_id: block.tool_use_id } : block));
}

function oneLine(text: string, max: number): string {
  const line = text.trim().split('\n')[0]!.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
