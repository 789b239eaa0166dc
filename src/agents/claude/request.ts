/**
 * One Messages API request of the conversation: its parameters, with prompt-cache breakpoints
 * placed so every turn and every experiment of a run reuses the longest stable prefix, and
 * the call itself, streamed or plain.
 *
 * Breakpoints (the API allows four): the tools, the system prompt, the stable part of the
 * first message (the same for every experiment of a run), and the newest block of the
 * conversation (so each turn reads the previous turn from the cache).
 */
import type Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageCreateParamsBase,
  MessageParam,
  Tool,
} from '@anthropic-ai/sdk/resources/messages/messages.js';
import type { ClaudeAgentSpec } from './client.js';

export const EPHEMERAL = { type: 'ephemeral' } as const;

export interface Conversation {
  system: string;
  tools: Tool[];
  /** User and assistant turns, without the moving breakpoint (added per request). */
  messages: MessageParam[];
}

export function requestParams(agent: ClaudeAgentSpec, conversation: Conversation, options: { forceTool?: string }): MessageCreateParamsBase {
  return {
    model: agent.model,
    max_tokens: agent.max_tokens,
    ...(agent.temperature === undefined ? {} : { temperature: agent.temperature }),
    system: [{ type: 'text', text: conversation.system, cache_control: EPHEMERAL }],
    tools: conversation.tools,
    ...(options.forceTool === undefined ? {} : { tool_choice: { type: 'tool', name: options.forceTool } }),
    messages: withMovingBreakpoint(conversation.messages),
  };
}

/** The messages with a cache breakpoint on the last block of the last message. */
function withMovingBreakpoint(messages: readonly MessageParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (last === undefined || typeof last.content === 'string' || last.content.length === 0) return [...messages];
  const blocks = last.content;
  const tail = blocks.at(-1)!;
  const marked = 'cache_control' in tail && tail.cache_control ? tail : ({ ...tail, cache_control: EPHEMERAL } as ContentBlockParam);
  return [...messages.slice(0, -1), { ...last, content: [...blocks.slice(0, -1), marked] } as MessageParam];
}

/** Sends one request; errors are the SDK's, for the retry loop to classify. */
export async function sendRequest(client: Anthropic, params: MessageCreateParamsBase, stream: boolean, signal: AbortSignal): Promise<Message> {
  if (stream) return await client.messages.stream(params, { signal }).finalMessage();
  return await client.messages.create({ ...params, stream: false }, { signal });
}

/**
 * The response's blocks as they go back into the conversation: text, tool calls and thinking
 * (which must be returned unchanged alongside tool use); anything else is dropped.
 */
export function assistantContent(content: readonly ContentBlock[]): ContentBlockParam[] {
  const blocks: ContentBlockParam[] = [];
  for (const block of content) {
    if (block.type === 'text') blocks.push({ type: 'text', text: block.text });
    else if (block.type === 'tool_use') blocks.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input });
    else if (block.type === 'thinking') blocks.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
    else if (block.type === 'redacted_thinking') blocks.push({ type: 'redacted_thinking', data: block.data });
  }
  // The API rejects an assistant turn without content.
  if (blocks.length === 0) blocks.push({ type: 'text', text: '(no response)' });
  return blocks;
}
