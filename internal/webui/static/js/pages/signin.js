// signin.js: the user pastes a bearer token, which stays in sessionStorage.
import { api, errorBox, h, navigate, route, session, setToken, clearToken } from '../core.js';

route('/signin', (main, _params, query) => {
  const s = session();
  const field = h('textarea', { id: 'token', name: 'token', rows: '4', required: true, autocomplete: 'off', spellcheck: 'false', 'data-test': 'token' });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'card', 'data-test': 'signin-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const value = field.value.trim();
      status.replaceChildren();
      if (!value) {
        status.append(errorBox(new Error('Paste a bearer token first.')));
        return;
      }
      setToken(value);
      try {
        // Any call proves the token; listing one firewall is the cheapest.
        await api('GET', '/firewalls', { query: { page_size: 1 } });
      } catch (err) {
        if (err.status === 401) {
          status.append(errorBox(new Error('The server did not accept this token (expired, or not signed by a trusted key).')));
          clearToken();
          return;
        }
        if (err.status !== 403) {
          status.append(errorBox(err));
          return;
        }
      }
      navigate(query.get('next') || '/firewalls');
    },
  },
  h('label', { for: 'token' }, 'Bearer token'),
  h('p', { class: 'hint', id: 'token-hint' }, 'Paste a FireFlow token (a JWT). It is kept in this tab only, never in a cookie or the address bar.'),
  field,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'signin' }, 'Sign in')),
  status);
  field.setAttribute('aria-describedby', 'token-hint');
  main.append(h('h1', null, 'Sign in'), h('p', null, s.sub ? ['Signed in as ', h('strong', null, s.sub), '. Paste another token to switch.'] : 'Sign in with a bearer token to manage firewalls.'), form);
  field.focus();
});
