// The API key form, shown when the API answers 401. The key stays in this browser's localStorage
// and goes out as `Authorization: Bearer` (see api/client.ts); it is never put in a URL.
import { useState } from 'preact/hooks';

export function KeyPrompt({ refused, onKey }: { refused: boolean; onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  return (
    <form
      class="card key-form"
      aria-labelledby="key-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) onKey(key.trim());
      }}
    >
      <h2 id="key-title">API key needed</h2>
      <p>
        This API asks who you are. Paste an API key from its operator; it is kept in this browser only.
      </p>
      <label for="api-key">API key</label>
      <input
        id="api-key"
        class="secret"
        type="text"
        autocomplete="off"
        spellcheck={false}
        autoFocus
        value={key}
        onInput={(e) => setKey(e.currentTarget.value)}
      />
      {refused && (
        <p role="alert" class="error">
          The API refused this key. Check it and try again.
        </p>
      )}
      <button type="submit" class="primary" disabled={!key.trim()}>
        Use key
      </button>
    </form>
  );
}
