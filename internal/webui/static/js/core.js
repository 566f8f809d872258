// core.js: the helpers every page of the console shares. The console is a
// client of the public REST API; the bearer token lives in sessionStorage
// only. All DOM is built with createElement and textContent through h():
// nothing user-supplied is ever parsed as markup.

const TOKEN_KEY = 'fireflow.token';

/** token returns the bearer token of this tab, or ''. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** setToken keeps the bearer token for this tab only. */
export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
  showWho();
}

/** clearToken forgets the bearer token. */
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  showWho();
}

/** ApiError is a non-2xx answer of the API. */
export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

// quoteETag makes a bare etag (as resources carry it in their body) a
// quoted one, as If-Match wants it.
function quoteETag(etag) {
  if (etag === '*' || etag.startsWith('"') || etag.startsWith('W/')) return etag;
  return '"' + etag + '"';
}

/**
 * api calls the REST API. path is either a full path (/api/v1/...) or one
 * relative to /api/v1 (/firewalls). It resolves to {status, body, etag};
 * a non-2xx answer throws ApiError, and a 401 also signs the user out.
 */
export async function api(method, path, { body, etag, query } = {}) {
  let url = path.startsWith('/api/') ? path : '/api/v1' + path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    }
    const s = qs.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const headers = { Accept: 'application/json, application/problem+json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  if (etag) headers['If-Match'] = quoteETag(etag);
  const init = { method, headers, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, null, 'The server cannot be reached: ' + e.message);
  }
  const text = await res.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!res.ok) {
    const problem = parsed && typeof parsed === 'object' ? parsed : null;
    const msg = (problem && (problem.detail || problem.title)) || res.status + ' ' + res.statusText;
    if (res.status === 401) {
      clearToken();
      navigate('/signin');
    }
    throw new ApiError(res.status, problem, msg);
  }
  return { status: res.status, body: parsed, etag: res.headers.get('ETag') || '' };
}

// Attributes h() sets as properties rather than attributes, so that they
// also take effect after the user has changed the control.
const PROPS = { value: 'value', checked: 'checked', selected: 'selected', disabled: 'disabled' };

function safeHref(v) {
  const s = String(v);
  // Only in-app and http(s) links: never a script or data URL.
  if (s.startsWith('#') || s.startsWith('/') || /^https?:\/\//i.test(s)) return s;
  return '#';
}

/**
 * h makes an element. attrs: class, id, for, type, name, value, href,
 * role, aria-*, data-*, title, disabled, checked, selected, placeholder,
 * required and other plain attributes; a function under a key starting
 * with "on" becomes an event listener. Children: strings and numbers are
 * text, null/false/undefined are skipped, arrays are flattened.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (key.startsWith('on')) {
      if (typeof v !== 'function') throw new Error('h: ' + key + ' must be a function');
      el.addEventListener(key.slice(2).toLowerCase(), v);
    } else if (key === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
    } else if (key === 'for') {
      el.htmlFor = String(v);
    } else if (key === 'href') {
      el.setAttribute('href', safeHref(v));
    } else if (key === 'style' || key.endsWith('HTML')) {
      throw new Error('h: ' + key + ' is not allowed');
    } else if (key in PROPS) {
      el[PROPS[key]] = v === true ? true : v;
      if (key !== 'value') el.setAttribute(key, '');
      else el.setAttribute('value', String(v));
    } else {
      el.setAttribute(key, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// The router: hash paths such as #/firewalls/ID?filter=...

const routes = [];
let generation = 0;

/** route registers a hash route; render(main, params, query) may be async. */
export function route(pattern, render) {
  const parts = pattern.split('/').filter(Boolean);
  routes.push({ pattern, parts, render });
}

/** navigate goes to a hash path such as /firewalls. */
export function navigate(path) {
  const target = '#' + path;
  if (location.hash === target) {
    refresh();
  } else {
    location.hash = target;
  }
}

/** current returns the hash path and query of the page shown. */
export function current() {
  const raw = location.hash.slice(1);
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  return { path: path || '/', query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function match(path) {
  const segs = path.split('/').filter(Boolean);
  for (const r of routes) {
    if (r.parts.length !== segs.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < segs.length && ok; i++) {
      const p = r.parts[i];
      if (p.startsWith(':')) {
        try {
          params[p.slice(1)] = decodeURIComponent(segs[i]);
        } catch {
          ok = false;
        }
      } else if (p !== segs[i]) {
        ok = false;
      }
    }
    if (ok) return { r, params };
  }
  return null;
}

/** refresh renders the current route again. */
export async function refresh() {
  const main = document.getElementById('main');
  const mine = ++generation;
  const { path, query } = current();
  if (!token() && path !== '/signin') {
    location.replace('#/signin');
    return;
  }
  const m = match(path);
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  try {
    if (!m) {
      main.append(h('h1', null, 'Not found'), h('p', null, 'No page at ', h('code', null, path), '. ', h('a', { href: '#/firewalls' }, 'Back to the firewalls')));
      return;
    }
    await m.r.render(main, m.params, query);
  } catch (err) {
    if (mine === generation && !(err instanceof ApiError && err.status === 401)) {
      main.append(errorBox(err));
    }
  } finally {
    if (mine === generation) {
      main.removeAttribute('aria-busy');
      const h1 = main.querySelector('h1');
      document.title = (h1 ? h1.textContent + ' · ' : '') + 'FireFlow console';
    }
  }
}

/** stale reports whether a newer navigation has begun since render started. */
export function staleSince(gen) {
  return gen !== generation;
}

/** renderGeneration returns the number of the render in progress. */
export function renderGeneration() {
  return generation;
}

/** start begins routing; a #token=... fragment signs in and is removed from the URL. */
export function start() {
  const hash = location.hash;
  if (hash.startsWith('#token=')) {
    setToken(decodeURIComponent(hash.slice('#token='.length)));
    history.replaceState(null, '', location.pathname + '#/firewalls');
  }
  window.addEventListener('hashchange', () => {
    if (location.hash === '' || location.hash.startsWith('#/')) refresh();
  });
  showWho();
  if (!location.hash.startsWith('#/')) history.replaceState(null, '', location.pathname + '#/firewalls');
  refresh();
}

function showWho() {
  const who = document.getElementById('who');
  if (!who) return;
  const s = session();
  who.textContent = s.sub ? 'Signed in as ' + s.sub + (s.roles.length ? ' (' + s.roles.join(', ') + ')' : '') : 'Not signed in';
  const out = document.getElementById('signout');
  if (out) out.hidden = !s.sub;
}

/** errorBox shows an error, with a problem+json answer's details. */
export function errorBox(err) {
  const box = h('div', { class: 'error', role: 'alert', 'data-test': 'error' });
  if (!(err instanceof ApiError)) {
    box.append(h('p', null, h('strong', null, 'Something went wrong: '), String(err && err.message ? err.message : err)));
    return box;
  }
  const p = err.problem || {};
  box.append(h('p', null, h('strong', null, p.title || 'Error ' + err.status), p.detail ? ': ' + p.detail : ''));
  if (err.status === 403) {
    const m = /needs the (\w+) role/.exec(p.detail || '');
    // A 403 that names no role is a refusal of this user for this item
    // (such as approving one's own change request): the detail says why.
    if (m) box.append(h('p', { 'data-test': 'missing-role' }, 'Missing role: ' + m[1] + '. Ask for a token that grants it.'));
  } else if (err.status === 412) {
    box.append(h('p', null, 'This item changed since you read it. Look at its current values and try again.'));
  } else if (err.status === 429) {
    box.append(h('p', null, 'Too many requests: wait a moment and try again.'));
  } else if (err.status === 0) {
    box.append(h('p', null, err.message));
  }
  if (Array.isArray(p.errors) && p.errors.length) {
    box.append(h('ul', null, p.errors.map((e) => h('li', null, e.location ? h('code', null, e.location) : null, e.location ? ': ' : '', e.message || ''))));
  }
  return box;
}

/** loading is a busy indicator. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status', 'aria-busy': 'true' }, text);
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** time shows an RFC 3339 time in the viewer's time zone. */
export function time(iso) {
  if (!iso) return h('span', null, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, String(iso));
  return h('time', { datetime: iso, title: iso }, dateFmt.format(d));
}

// Paging state: one stack of page tokens per list, keyed by the hash path
// (without page_token) and the caller's optional key. A render that the
// pager itself caused continues the stack; any other starts it afresh.
const stacks = new Map();

function pagerKey(key) {
  const { path, query } = current();
  query.delete('page_token');
  return path + '?' + query.toString() + '|' + (key || '');
}

/**
 * pager makes Previous/Next buttons for a list answer; go(token) renders
 * the page with that token ('' for the first). key tells apart several
 * lists on one page.
 */
export function pager(page, go, key) {
  const k = pagerKey(key);
  let st = stacks.get(k);
  if (!st || !st.expect) {
    const start = key ? '' : current().query.get('page_token') || '';
    st = { tokens: [start], index: 0, expect: false };
    stacks.set(k, st);
  }
  st.expect = false;
  const next = (page && page.next_page_token) || '';
  const move = (index, tok) => {
    st.tokens = st.tokens.slice(0, index);
    st.tokens[index] = tok;
    st.index = index;
    st.expect = true;
    go(tok);
  };
  const nav = h('nav', { class: 'pager', 'aria-label': 'Pages', hidden: st.index === 0 && !st.tokens[0] && !next });
  const pageNo = st.index + 1;
  const label = st.tokens[0] && st.index === 0 ? 'A later page' : 'Page ' + pageNo;
  nav.append(
    h('button', { type: 'button', 'data-test': 'pager-prev', disabled: st.index === 0 && !st.tokens[0],
      onclick: () => st.index > 0 ? move(st.index - 1, st.tokens[st.index - 1]) : move(0, '') }, st.index === 0 ? 'First page' : 'Previous'),
    h('span', { class: 'pageno' }, label),
    h('button', { type: 'button', 'data-test': 'pager-next', disabled: !next, onclick: () => move(st.index + 1, next) }, 'Next'),
  );
  return nav;
}

/** session decodes the token's subject and roles, for display only. */
export function session() {
  const t = token();
  const parts = t.split('.');
  if (parts.length !== 3) return { sub: '', roles: [] };
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '='));
    const claims = JSON.parse(json);
    const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
    return { sub: String(claims.sub || ''), roles };
  } catch {
    return { sub: '', roles: [] };
  }
}

function names(list, groups) {
  const out = [...(list || [])];
  for (const g of groups || []) out.push('@' + (g.name || g.id));
  return out.length ? out.join(', ') : 'any';
}

/** describeRule is a one-line summary: "allow tcp 10.0.0.0/8 → any :443". */
export function describeRule(rule) {
  let s = rule.action + ' ' + (rule.protocol || 'any') + ' ' + names(rule.sources, rule.source_groups) + ' → ' + names(rule.destinations, rule.destination_groups);
  if (rule.destination_ports && rule.destination_ports.length) s += ' :' + rule.destination_ports.join(',');
  if (rule.source_ports && rule.source_ports.length) s += ' from :' + rule.source_ports.join(',');
  if (rule.service_groups && rule.service_groups.length) s += ' svc ' + rule.service_groups.map((g) => '@' + (g.name || g.id)).join(', ');
  if (rule.enabled === false) s += ' (disabled)';
  return s;
}
