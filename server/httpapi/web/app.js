// The built-in web client of authctl serve: the classic tutorial's Angular flow (log in,
// check the weather, on 401 refresh once and replay once) without a framework, and without
// a token in web storage. The access token lives in the `session` variable below and
// nowhere else; the refresh token lives in an HttpOnly cookie that this script cannot read
// and that only the auth endpoints receive. README "Browser" explains the design.

// The static header that asks the auth endpoints for cookie mode. It is also half of the
// CSRF defence: a cross-site form cannot send it (the server also checks the origin).
const BROWSER = { 'X-Authctl-Browser': '1' };

// Web Lock names. REFRESH serialises everything that spends or replaces the refresh cookie
// across the tabs of this browser, so no refresh token is ever presented twice. GEN_PREFIX+n
// is held by the tab that minted token generation n: a Web Lock query is ordered with the
// lock grants, unlike BroadcastChannel messages, so a tab that gets the REFRESH lock learns
// for certain whether another tab refreshed in the meantime, and then waits for that tab's
// token instead of spending the new refresh token again.
const REFRESH = 'authctl-refresh';
const GEN_PREFIX = 'authctl-gen-';
const OTHER_TAB_TIMEOUT_MS = 2000;

const $ = (id) => document.getElementById(id);

// Raised when the session is over (refresh refused): the page returns to the login form
// with the message.
class SessionEnded extends Error {}
// Raised at start-up when there is no session cookie: the login form, without a message.
class NoSession extends Error {}

// The state of this tab. token is the access token: memory only, by design.
const session = { token: null, gen: 0 };
let refreshing = null; // the refresh in flight in this tab; concurrent callers share it
let releaseGen = null; // lets go of the GEN_PREFIX lock this tab holds
const waiters = new Set(); // resolvers waiting for a token from another tab

const locks = navigator.locks; // absent outside secure contexts (plain http off loopback)
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('authctl-session') : null;

// --- talking to the server ---------------------------------------------------------------

async function post(path, body) {
  const headers = { ...BROWSER, Accept: 'application/json' };
  const init = { method: 'POST', headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

async function errorOf(res) {
  try {
    const body = await res.json();
    return { code: body.error || '', text: body.error_description || `HTTP ${res.status}` };
  } catch {
    return { code: '', text: `HTTP ${res.status}` };
  }
}

// refresh returns a usable access token after `failed` was refused (or was missing). One
// refresh per tab at a time; callers that arrive meanwhile get the same result.
function refresh(failed) {
  refreshing ??= lockedRefresh(failed).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function lockedRefresh(failed) {
  if (!locks) {
    return refreshNow(session.gen + 1);
  }
  return locks.request(REFRESH, async () => {
    // Another tab's token arrived while we waited for the lock.
    if (session.token && session.token !== failed) {
      return session.token;
    }
    const published = await publishedGen();
    if (published > session.gen) {
      // Another tab refreshed after our token was minted; its message is on the way.
      const token = await tokenFromOtherTab(published);
      if (token && token !== failed) {
        return token;
      }
    }
    return refreshNow(Math.max(published, session.gen) + 1);
  });
}

// refreshNow spends the cookie's refresh token. Caller holds the REFRESH lock.
async function refreshNow(gen) {
  const res = await post('/api/auth/refresh');
  if (!res.ok) {
    const err = await errorOf(res);
    if (err.code === 'invalid_request' && err.text === 'no session cookie') {
      throw new NoSession(err.text);
    }
    if (err.code === 'invalid_grant' || res.status === 400 || res.status === 403) {
      throw new SessionEnded('Your session has expired or was revoked. Please log in again.');
    }
    throw new Error(`The server could not refresh the session: ${err.text}`);
  }
  const body = await res.json();
  await publish(body.access_token, gen);
  markRefreshed('');
  return body.access_token;
}

// publish makes a token we obtained ours and tells the other tabs.
async function publish(token, gen) {
  adopt(token, gen);
  channel?.postMessage({ type: 'token', gen, token });
  if (locks) {
    await holdGen(gen);
  }
}

function adopt(token, gen) {
  session.token = token;
  session.gen = gen;
  for (const wake of waiters) {
    wake();
  }
}

// holdGen takes the lock that announces generation gen, then lets go of the previous one.
function holdGen(gen) {
  const previous = releaseGen;
  return new Promise((granted) => {
    locks.request(GEN_PREFIX + gen, () => {
      granted();
      return new Promise((release) => {
        releaseGen = release;
      });
    });
  }).then(() => previous?.());
}

async function publishedGen() {
  const { held = [] } = await locks.query();
  let gen = 0;
  for (const lock of held) {
    if (lock.name?.startsWith(GEN_PREFIX)) {
      gen = Math.max(gen, Number(lock.name.slice(GEN_PREFIX.length)) || 0);
    }
  }
  return gen;
}

// tokenFromOtherTab resolves with the token of generation gen once its message arrives, or
// null if the tab that minted it went away without a word.
function tokenFromOtherTab(gen) {
  return new Promise((resolve) => {
    const done = (token) => {
      waiters.delete(check);
      clearTimeout(timer);
      resolve(token);
    };
    const check = () => {
      if (session.gen >= gen) {
        done(session.token);
      }
    };
    const timer = setTimeout(() => done(null), OTHER_TAB_TIMEOUT_MS);
    waiters.add(check);
    check();
  });
}

// apiGet calls a protected endpoint as the tutorial's interceptor does: with the bearer
// token; on 401 one refresh and one replay, never a loop.
async function apiGet(path) {
  const call = (token) =>
    fetch(path, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, cache: 'no-store' });
  let token = session.token ?? (await refresh(null));
  let res = await call(token);
  if (res.status === 401) {
    token = await refresh(token);
    res = await call(token);
    if (res.status === 401) {
      throw new SessionEnded('The server refused the renewed access token. Please log in again.');
    }
  }
  if (!res.ok) {
    throw new Error((await errorOf(res)).text);
  }
  return res.json();
}

// --- the page ------------------------------------------------------------------------------

function show(view) {
  for (const id of ['loading', 'login', 'home']) {
    $(id).hidden = id !== view;
  }
}

function say(text, kind = 'info') {
  const m = $('message');
  m.textContent = text;
  m.dataset.kind = kind;
  m.hidden = !text;
}

// claims reads the access token's payload for display only; the server verifies it.
function claims(token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

function showHome() {
  const c = claims(session.token);
  const name = c.name || c.sub || '';
  $('welcome').textContent = name ? `Welcome, ${name}` : 'Welcome';
  $('who').textContent = name;
  show('home');
}

function markRefreshed(suffix) {
  const r = $('refreshed');
  r.textContent = `Token refreshed @ ${new Date().toLocaleTimeString()}${suffix}`;
  r.hidden = false;
}

function render(rows) {
  const body = $('forecast-rows');
  body.replaceChildren(
    ...rows.map((f) => {
      const tr = document.createElement('tr');
      for (const v of [f.date, f.temperatureC, f.temperatureF, f.summary]) {
        const td = document.createElement('td');
        td.textContent = String(v);
        tr.append(td);
      }
      return tr;
    }),
  );
  $('forecast').hidden = false;
}

function endSession(text, kind) {
  session.token = null;
  $('forecast-rows').replaceChildren();
  $('forecast').hidden = true;
  $('refreshed').hidden = true;
  $('who').textContent = '';
  show('login');
  say(text, kind);
  $('username').focus();
}

function failed(err) {
  if (err instanceof SessionEnded || err instanceof NoSession) {
    endSession(err instanceof NoSession ? 'Your session has ended. Please log in again.' : err.message, 'error');
  } else if (err instanceof TypeError) {
    say('Cannot reach the server.', 'error');
  } else {
    say(err.message, 'error');
  }
}

// withRefreshLock runs fn while no tab can spend the refresh cookie, for the calls that
// replace it (login) or end it (logout).
function withRefreshLock(fn) {
  return locks ? locks.request(REFRESH, fn) : fn();
}

async function onLogin(event) {
  event.preventDefault();
  const button = $('login-button');
  button.disabled = true;
  say('');
  try {
    await withRefreshLock(async () => {
      const res = await post('/api/auth/login', { username: $('username').value, password: $('password').value });
      if (!res.ok) {
        const err = await errorOf(res);
        const wait = res.headers.get('Retry-After');
        say(res.status === 429 && wait ? `Too many failed logins; try again in ${wait} s.` :
          res.status === 401 ? 'Wrong user name or password.' : err.text, 'error');
        return;
      }
      const body = await res.json();
      $('password').value = '';
      await publish(body.access_token, (locks ? Math.max(await publishedGen(), session.gen) : session.gen) + 1);
      showHome();
    });
  } catch (err) {
    failed(err);
  } finally {
    button.disabled = false;
  }
}

async function onCheckWeather() {
  try {
    render(await apiGet('/api/weather'));
    say('');
  } catch (err) {
    failed(err);
  }
}

function onClearToken() {
  session.token = null;
  say('Access token cleared: the next call gets a new one through the session cookie.');
}

async function onLogout() {
  let text = 'You are logged out.';
  try {
    await withRefreshLock(async () => {
      const res = await post('/api/auth/logout');
      if (!res.ok) {
        text = `Logged out here, but the server said: ${(await errorOf(res)).text}`;
      }
    });
  } catch {
    text = 'Logged out here, but the server could not be reached to end the session.';
  }
  channel?.postMessage({ type: 'logout' });
  endSession(text, 'info');
}

channel?.addEventListener('message', ({ data }) => {
  if (data?.type === 'token' && typeof data.token === 'string' && data.gen > session.gen) {
    const wasLoggedOut = !session.token && !$('login').hidden;
    adopt(data.token, data.gen);
    markRefreshed(' (by another tab)');
    if (wasLoggedOut) {
      say('');
      showHome();
    }
  } else if (data?.type === 'logout') {
    endSession('You logged out in another tab.', 'info');
  }
});

async function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('check').addEventListener('click', onCheckWeather);
  $('clear').addEventListener('click', onClearToken);
  $('logout').addEventListener('click', onLogout);
  // Tokens minted by other tabs before this one opened are not coming here.
  if (locks) {
    session.gen = await publishedGen();
  }
  try {
    await refresh(null); // a reload recovers the session through the cookie
    showHome();
  } catch (err) {
    show('login');
    if (!(err instanceof NoSession)) {
      failed(err);
    }
  }
}

start();
