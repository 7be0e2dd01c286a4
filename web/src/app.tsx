// The page: a header, the sidebar (chats and personas) and the open chat. Everything the API says
// goes through report(): a 401 asks for a key, anything else is shown in the alert.
import { useEffect, useState } from 'preact/hooks';
import { KeyPrompt } from './access.tsx';
import { api, ApiError, call, storedKey, type ChatSummary, type Persona, type Voice } from './api/client.ts';
import { player } from './audio/player.ts';
import { ChatList } from './chats.tsx';
import { Conversation } from './conversation.tsx';
import { PersonaPanel } from './personas.tsx';

const AUTOPLAY_ITEM = 'chatbox.autoplay';

export function App() {
  const [keyState, setKeyState] = useState<'none' | 'asked' | 'refused'>('none');
  const [alert, setAlert] = useState<string | null>(null);
  const [voices, setVoices] = useState<Voice[]>([]);
  const [personas, setPersonas] = useState<Persona[]>([]);
  const [chats, setChats] = useState<ChatSummary[]>([]);
  const [openId, setOpenId] = useState<string | null>(null);
  const [nextPersona, setNextPersona] = useState('');
  const [autoplay, setAutoplay] = useState(() => localStorage.getItem(AUTOPLAY_ITEM) !== 'off');
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [hasKey, setHasKey] = useState(() => storedKey.get() !== null);

  const report = (err: unknown) => {
    if (err instanceof ApiError && err.status === 401) {
      setKeyState(storedKey.get() ? 'refused' : 'asked');
      return;
    }
    setAlert(err instanceof Error ? err.message : String(err));
  };

  const loadPersonas = () => call(api.GET('/api/personas')).then(setPersonas);
  const loadChats = () => call(api.GET('/api/chat')).then(setChats);
  const loadAll = async () => {
    try {
      await Promise.all([loadPersonas(), loadChats()]);
      setKeyState('none');
    } catch (err) {
      report(err);
    }
  };

  useEffect(() => {
    call(api.GET('/api/voices')).then(setVoices, report);
    void loadAll();
  }, []);

  useEffect(() => localStorage.setItem(AUTOPLAY_ITEM, autoplay ? 'on' : 'off'), [autoplay]);

  const useKey = (key: string) => {
    storedKey.set(key);
    setHasKey(true);
    setAlert(null);
    setOpenId(null);
    void loadAll();
  };
  const forgetKey = () => {
    storedKey.clear();
    setHasKey(false);
    setPersonas([]);
    setChats([]);
    setOpenId(null);
    void loadAll();
  };

  const newChat = async () => {
    try {
      const chat = await call(api.POST('/api/chat', { body: { persona_id: nextPersona || null } }));
      setChats((list) => [chat, ...list]);
      setOpenId(chat.session_id);
      setSidebarOpen(false);
      // Straight to writing: the composer is rendered by the chat that just opened.
      requestAnimationFrame(() => document.getElementById('message')?.focus());
    } catch (err) {
      report(err);
    }
  };

  const deleteChat = async (id: string) => {
    try {
      await call(api.DELETE('/api/chat/{session_id}', { params: { path: { session_id: id } } }));
      if (id === openId) setOpenId(null);
      setChats((list) => list.filter((c) => c.session_id !== id));
    } catch (err) {
      report(err);
    }
  };

  const personasChanged = () => {
    loadPersonas().catch(report);
    // A deleted persona's chats fall back to the default voice.
    loadChats().catch(report);
  };

  if (keyState !== 'none') {
    return (
      <>
        <Header autoplay={autoplay} onAutoplay={setAutoplay} hasKey={hasKey} onForgetKey={forgetKey} />
        <main class="center">
          <KeyPrompt refused={keyState === 'refused'} onKey={useKey} />
        </main>
      </>
    );
  }

  return (
    <>
      <Header
        autoplay={autoplay}
        onAutoplay={(on) => {
          setAutoplay(on);
          if (!on) player().stop();
        }}
        hasKey={hasKey}
        onForgetKey={forgetKey}
        sidebarOpen={sidebarOpen}
        onSidebar={() => setSidebarOpen((o) => !o)}
      />
      {alert && (
        <div class="alert" role="alert">
          <span>{alert}</span>
          <button type="button" class="quiet" onClick={() => setAlert(null)}>
            Dismiss
          </button>
        </div>
      )}
      <div class="layout">
        <aside id="sidebar" class={sidebarOpen ? 'sidebar open' : 'sidebar'} aria-label="Chats and personas">
          <ChatList
            chats={chats}
            personas={personas}
            openId={openId}
            nextPersona={nextPersona}
            onNextPersona={setNextPersona}
            onNew={() => void newChat()}
            onOpen={(id) => {
              setOpenId(id);
              setSidebarOpen(false);
            }}
            onDelete={(id) => void deleteChat(id)}
          />
          <PersonaPanel personas={personas} voices={voices} onChanged={personasChanged} report={report} />
        </aside>
        <main class="main">
          {openId ? (
            <Conversation key={openId} sessionId={openId} personas={personas} autoplay={autoplay} report={report} />
          ) : (
            <div class="welcome">
              <h2>Talk to a persona</h2>
              <p>
                Pick a persona under <strong>Chats</strong> and press <strong>New chat</strong>, or open a chat from the list.
                Every reply can be heard: press Play, or leave Autoplay on to hear each new reply as it is written.
              </p>
            </div>
          )}
        </main>
      </div>
    </>
  );
}

interface HeaderProps {
  autoplay: boolean;
  onAutoplay(on: boolean): void;
  hasKey: boolean;
  onForgetKey(): void;
  sidebarOpen?: boolean;
  onSidebar?(): void;
}

function Header({ autoplay, onAutoplay, hasKey, onForgetKey, sidebarOpen, onSidebar }: HeaderProps) {
  return (
    <header class="top">
      {onSidebar && (
        <button type="button" class="menu" aria-expanded={sidebarOpen ? 'true' : 'false'} aria-controls="sidebar" onClick={onSidebar}>
          Chats and personas
        </button>
      )}
      <h1>Chat with voice</h1>
      <label class="toggle">
        <input type="checkbox" checked={autoplay} onChange={(e) => onAutoplay(e.currentTarget.checked)} />
        Autoplay
      </label>
      {hasKey && (
        <button type="button" class="quiet" onClick={onForgetKey}>
          Forget key
        </button>
      )}
    </header>
  );
}
