// Picks the ChatModel named by the configuration: the one place that knows all the providers.
import type { Config } from '../config/env.ts';
import type { ChatModel } from './chat-model.ts';
import { createGeminiChatModel } from './gemini-chat-model.ts';
import { createOfflineChatModel } from './offline-chat-model.ts';
import { createOpenAiChatModel } from './openai-chat-model.ts';

export function createChatModel(llm: Config['llm']): ChatModel {
  switch (llm.provider) {
    case 'gemini':
      return createGeminiChatModel({
        apiKey: llm.apiKey,
        model: llm.model,
        baseUrl: llm.baseUrl,
        maxOutputTokens: llm.maxOutputTokens,
      });
    case 'openai':
      return createOpenAiChatModel({
        baseUrl: llm.baseUrl,
        apiKey: llm.apiKey,
        model: llm.model,
        maxOutputTokens: llm.maxOutputTokens,
      });
    case 'offline':
      return createOfflineChatModel({ maxOutputTokens: llm.maxOutputTokens });
  }
}
