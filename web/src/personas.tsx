// Personas: the list, and an editor whose voice comes from GET /api/voices, grouped by language and
// searchable, with a preview of the chosen voice.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, call, type Persona, type Voice } from './api/client.ts';
import { player, usePlayer } from './audio/player.ts';

const PREVIEW_TRACK = 'preview';

interface Props {
  personas: Persona[];
  voices: Voice[];
  /** After a create, update or delete: the list to show. */
  onChanged(): void;
  report(err: unknown): void;
}

interface Draft {
  name: string;
  system_prompt: string;
  voice_id: string;
}

const EMPTY: Draft = { name: '', system_prompt: '', voice_id: '' };

export function PersonaPanel({ personas, voices, onChanged, report }: Props) {
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const playerState = usePlayer();
  const playing = playerState.track === PREVIEW_TRACK;
  const previewFailed = playerState.failed.has(PREVIEW_TRACK);

  const edit = (p: Persona | null) => {
    setEditing(p?.id ?? null);
    setDraft(p ? { name: p.name, system_prompt: p.system_prompt, voice_id: p.voice_id ?? '' } : EMPTY);
    setSaved(null);
  };
  // A persona gone from a newer list (deleted here or elsewhere) leaves the editor. Only a new list
  // counts: just after a create, the list is still the one without the new persona.
  useEffect(() => {
    if (editing && !personas.some((p) => p.id === editing)) edit(null);
  }, [personas]);

  const save = async () => {
    setBusy(true);
    try {
      const body = { name: draft.name, system_prompt: draft.system_prompt, voice_id: draft.voice_id || null };
      const persona = editing
        ? await call(api.PATCH('/api/personas/{id}', { params: { path: { id: editing } }, body }))
        : await call(api.POST('/api/personas', { body }));
      setEditing(persona.id);
      setSaved(`Saved ${persona.name}.`);
      onChanged();
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!editing) return;
    setBusy(true);
    try {
      await call(api.DELETE('/api/personas/{id}', { params: { path: { id: editing } } }));
      edit(null);
      onChanged();
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };

  const preview = () => {
    if (playing) return player().stop();
    // The API answers 302 to the stored MP3; the media element follows it.
    player().playUrl(PREVIEW_TRACK, `/api/voices/${encodeURIComponent(draft.voice_id)}/preview`);
  };

  return (
    <section class="panel" aria-labelledby="personas-title">
      <h2 id="personas-title">Personas</h2>
      {personas.length > 0 && (
        <ul class="items" aria-label="Personas">
          {personas.map((p) => (
            <li key={p.id} class={p.id === editing ? 'open' : undefined}>
              <button type="button" class="item" aria-current={p.id === editing ? 'true' : undefined} onClick={() => edit(p)}>
                {p.name}
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="button" onClick={() => edit(null)}>
        New persona
      </button>
      <form
        class="editor"
        aria-label={editing ? `Edit ${personas.find((p) => p.id === editing)?.name ?? 'persona'}` : 'New persona'}
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label for="persona-name">Name</label>
        <input
          id="persona-name"
          required
          maxLength={100}
          value={draft.name}
          onInput={(e) => setDraft({ ...draft, name: e.currentTarget.value })}
        />
        <label for="persona-prompt">System prompt</label>
        <textarea
          id="persona-prompt"
          rows={3}
          value={draft.system_prompt}
          onInput={(e) => setDraft({ ...draft, system_prompt: e.currentTarget.value })}
        />
        <VoicePicker voices={voices} value={draft.voice_id} onChange={(voice_id) => setDraft({ ...draft, voice_id })} />
        <div class="row">
          <button type="button" onClick={preview} disabled={!draft.voice_id} aria-describedby={draft.voice_id ? undefined : 'preview-hint'}>
            {playing ? 'Stop preview' : 'Preview voice'}
          </button>
          <button type="submit" class="primary" disabled={busy || !draft.name.trim()}>
            Save persona
          </button>
          {editing && (
            <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
              Delete persona
            </button>
          )}
        </div>
        {!draft.voice_id && (
          <p id="preview-hint" class="hint">
            Choose a voice to hear it.
          </p>
        )}
        {previewFailed && <p class="hint">That preview could not be played. Try again in a moment.</p>}
        <p class="hint" role="status">
          {saved}
        </p>
      </form>
    </section>
  );
}

/** The voices in <optgroup>s by language, filtered by a search box (name, language or gender). */
function VoicePicker({ voices, value, onChange }: { voices: Voice[]; value: string; onChange(id: string): void }) {
  const [query, setQuery] = useState('');
  const groups = useMemo(() => {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const byLanguage = new Map<string, Voice[]>();
    for (const v of voices) {
      const haystack = `${v.name} ${v.id} ${v.language_name} ${v.language_code} ${v.gender}`.toLowerCase();
      // The chosen voice always stays, so a search never silently changes the selection.
      if (v.id !== value && !words.every((w) => haystack.includes(w))) continue;
      const list = byLanguage.get(v.language_name) ?? [];
      list.push(v);
      byLanguage.set(v.language_name, list);
    }
    return [...byLanguage.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([language, list]) => [language, list.sort((a, b) => a.name.localeCompare(b.name))] as const);
  }, [voices, query, value]);
  const shown = groups.reduce((n, [, list]) => n + list.length, 0);

  return (
    <fieldset class="voice-picker">
      <legend>Voice of this persona</legend>
      <label for="voice-search">Search voices</label>
      <input
        id="voice-search"
        type="search"
        placeholder="Name, language or gender"
        value={query}
        aria-describedby="voice-count"
        onInput={(e) => setQuery(e.currentTarget.value)}
      />
      <label for="persona-voice">Voice</label>
      <select id="persona-voice" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">Default voice</option>
        {groups.map(([language, list]) => (
          <optgroup key={language} label={language}>
            {list.map((v) => (
              <option key={v.id} value={v.id}>
                {`${v.name} (${v.gender.toLowerCase()})`}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
      <p id="voice-count" class="hint" aria-live="polite">
        {query ? `${shown} of ${voices.length} voices match.` : `${voices.length} voices.`}
      </p>
    </fieldset>
  );
}
