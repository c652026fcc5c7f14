/*
 * The document list: what the server knows (GET <api>/<collection>, when the
 * collab_api location is there) merged with the ids this browser opened
 * recently (localStorage), newest first.
 */

const RECENT_KEY = 'collab.recent';
const RECENT_MAX = 30;

export function recent() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
    return Array.isArray(list) ? list.filter((x) => typeof x === 'string') : [];
  } catch (e) {
    return [];
  }
}

export function remember(id) {
  const list = [id, ...recent().filter((x) => x !== id)].slice(0, RECENT_MAX);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch (e) {
    /* not kept: fine */
  }
}

/* [{id, v, updated}] from the server, or null when there is no list API */
async function fromServer(api, collection) {
  try {
    const res = await fetch(`${api}/${encodeURIComponent(collection)}`, {
      headers: {Accept: 'application/json'},
      cache: 'no-store',
    });
    if (!res.ok) {
      return null;
    }
    const body = await res.json();
    return Array.isArray(body) ? body : null;
  } catch (e) {
    return null;
  }
}

export async function listDocuments(api, collection) {
  const server = await fromServer(api, collection);
  const seen = new Map();

  for (const d of server || []) {
    if (d && typeof d.id === 'string') {
      seen.set(d.id, {id: d.id, v: d.v, updated: d.updated, server: true});
    }
  }
  for (const id of recent()) {
    if (!seen.has(id)) {
      seen.set(id, {id, server: false});
    }
  }

  return {
    listed: server !== null,
    docs: [...seen.values()].sort((a, b) => (b.updated || 0) - (a.updated || 0)),
  };
}

/* a readable id for a new document */
export function newId() {
  const words = ['notes', 'draft', 'plan', 'ideas', 'memo', 'story', 'todo'];
  const w = words[Math.floor(Math.random() * words.length)];
  return `${w}-${Math.random().toString(36).slice(2, 8)}`;
}

/* ids travel in URLs and ShareDB messages: keep them plain */
export function validId(id) {
  return /^[A-Za-z0-9._~-]{1,100}$/.test(id);
}
