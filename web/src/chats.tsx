// The chat list: the persona of the next chat, New chat, and every chat of the caller, newest first.
import type { ChatSummary, Persona } from './api/client.ts';

const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** What a chat is called on the page: its persona and when it began. */
export function chatLabel(chat: ChatSummary, personas: Persona[]): string {
  return `${personaName(chat.persona_id, personas) ?? 'Default voice'}, ${when.format(new Date(chat.created_at))}`;
}

export function personaName(id: string | null, personas: Persona[]): string | null {
  return personas.find((p) => p.id === id)?.name ?? null;
}

interface Props {
  chats: ChatSummary[];
  personas: Persona[];
  openId: string | null;
  nextPersona: string;
  onNextPersona(id: string): void;
  onNew(): void;
  onOpen(id: string): void;
  onDelete(id: string): void;
}

export function ChatList({ chats, personas, openId, nextPersona, onNextPersona, onNew, onOpen, onDelete }: Props) {
  return (
    <section class="panel" aria-labelledby="chats-title">
      <h2 id="chats-title">Chats</h2>
      <label for="next-persona">Persona</label>
      <div class="row">
        <select id="next-persona" value={nextPersona} onChange={(e) => onNextPersona(e.currentTarget.value)}>
          <option value="">Default voice</option>
          {personas.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
        <button type="button" class="primary" onClick={onNew}>
          New chat
        </button>
      </div>
      {chats.length === 0 ? (
        <p class="hint">No chats yet.</p>
      ) : (
        <ul class="items" aria-label="Chats">
          {chats.map((chat) => {
            const label = chatLabel(chat, personas);
            const open = chat.session_id === openId;
            return (
              <li key={chat.session_id} class={open ? 'open' : undefined}>
                <button type="button" class="item" aria-current={open ? 'true' : undefined} onClick={() => onOpen(chat.session_id)}>
                  {label}
                </button>
                <button type="button" class="quiet" aria-label={`Delete chat: ${label}`} onClick={() => onDelete(chat.session_id)}>
                  Delete
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
