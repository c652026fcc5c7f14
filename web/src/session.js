/*
 * Signing in with the server's built-in sign-in (collab_auth_login at
 * <meta name="collab-auth">, /auth by default).  The token lives in an
 * HttpOnly cookie the server sets: scripts never see it, the browser
 * sends it on the WebSocket upgrade and on REST calls.  This module only
 * knows who is signed in and until when, and refreshes the token before
 * it expires.
 *
 * resume() tells which of three the page is in: signed in (the cookie
 * holds a valid token), signed out (the server wants one), or no sign-in
 * at all (no such endpoint: a deployment with auth off, or with tokens
 * from an identity provider the page knows nothing of).
 */

export const SIGNED_IN = 'signed-in';
export const SIGNED_OUT = 'signed-out';
export const NO_SIGN_IN = 'no-sign-in';

/* the refresh comes when this share of the token's life is gone */
const REFRESH_AT = 0.75;

export function createSession(base) {
  let user = null;          /* {sub, name} */
  let expiresAt = 0;        /* seconds since the epoch */
  let timer = null;
  let onLost = () => {};
  let onRenewed = () => {};

  async function call(path, body) {
    const res = await fetch(`${base}/${path}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json',
                Accept: 'application/json'},
      body: JSON.stringify(body || {}),
    });
    let json = null;
    try {
      json = await res.json();
    } catch (e) {
      /* not JSON: the status says enough */
    }
    return {status: res.status, json};
  }

  function signedIn(json) {
    user = json.user;
    expiresAt = json.expires_at;
    clearTimeout(timer);
    const life = Math.max(5, expiresAt - Date.now() / 1000);
    timer = setTimeout(refresh, life * REFRESH_AT * 1000);
    return user;
  }

  async function refresh() {
    let r;
    try {
      r = await call('refresh');
    } catch (e) {
      /* the network is away: try again soon, the token may still do */
      timer = setTimeout(refresh, 5000);
      return false;
    }
    if (r.status === 200 && r.json && r.json.user) {
      signedIn(r.json);
      onRenewed(r.json.token);
      return true;
    }
    if (r.status === 401) {
      user = null;
      onLost();
    }
    return false;
  }

  return {
    get user() {
      return user;
    },

    get expiresAt() {
      return expiresAt;
    },

    /* called when the server no longer takes the token */
    set onLost(fn) {
      onLost = fn;
    },

    /* called with each refreshed token (the open socket takes it too) */
    set onRenewed(fn) {
      onRenewed = fn;
    },

    async resume() {
      let r;
      try {
        r = await call('refresh');
      } catch (e) {
        return NO_SIGN_IN;
      }
      if (r.status === 200 && r.json && r.json.user) {
        signedIn(r.json);
        return SIGNED_IN;
      }
      return r.status === 401 ? SIGNED_OUT : NO_SIGN_IN;
    },

    /* {ok, error}: sign in, or create the account first (signUp) */
    async signIn(name, password, signUp = false, displayName = '') {
      const body = {user: name, password};
      if (signUp && displayName) {
        body.name = displayName;
      }
      const r = await call(signUp ? 'signup' : 'login', body);
      if (r.status === 200 && r.json && r.json.user) {
        signedIn(r.json);
        return {ok: true};
      }
      return {ok: false,
              error: (r.json && r.json.error) || `error ${r.status}`};
    },

    /* the token was refused (WebSocket closed with 4401): get a new one */
    refresh,

    async signOut() {
      clearTimeout(timer);
      user = null;
      try {
        await call('logout');
      } catch (e) {
        /* the cookie goes with the page anyway */
      }
    },
  };
}
