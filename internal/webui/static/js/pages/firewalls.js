// firewalls.js: the list of firewalls, with an AIP-160 filter and paging.
import { api, errorBox, h, loading, navigate, pager, route, time } from '../core.js';

function listPath(filter, pageToken) {
  const q = new URLSearchParams();
  if (filter) q.set('filter', filter);
  if (pageToken) q.set('page_token', pageToken);
  const s = q.toString();
  return '/firewalls' + (s ? '?' + s : '');
}

route('/firewalls', async (main, _params, query) => {
  const filter = query.get('filter') || '';
  const pageToken = query.get('page_token') || '';
  const input = h('input', { id: 'fw-filter', name: 'filter', type: 'search', value: filter, placeholder: 'name = "edge-*" AND labels.env = "prod"', 'data-test': 'fw-filter', 'aria-describedby': 'fw-filter-hint' });
  const search = h('form', { class: 'filter', role: 'search', onsubmit: (ev) => { ev.preventDefault(); navigate(listPath(input.value.trim(), '')); } },
    h('label', { for: 'fw-filter' }, 'Filter'),
    input,
    h('button', { type: 'submit', 'data-test': 'fw-filter-apply' }, 'Apply'),
    filter ? h('button', { type: 'button', onclick: () => navigate('/firewalls') }, 'Clear') : null,
    h('p', { class: 'hint', id: 'fw-filter-hint' }, 'An AIP-160 filter over name, description, labels.<key>, default_action, revision, created_at and updated_at.'));
  const results = h('section', { 'aria-label': 'Firewalls' }, loading());
  main.append(
    h('div', { class: 'titlebar' }, h('h1', null, 'Firewalls'), h('button', { type: 'button', class: 'primary', 'data-test': 'fw-new', onclick: () => toggleForm() }, 'New firewall')),
    createForm(), search, results);

  const page = await api('GET', '/firewalls', { query: { filter, page_token: pageToken, page_size: 25 } }).then((r) => r.body).catch((err) => {
    results.replaceChildren(errorBox(err));
    return null;
  });
  if (!page) return;
  results.replaceChildren();
  if (!page.items.length) {
    results.append(h('p', { 'data-test': 'fw-empty' }, filter ? 'No firewall matches this filter.' : 'No firewalls yet. Create one with “New firewall”.'));
  } else {
    results.append(h('table', { class: 'list', 'data-test': 'fw-table' },
      h('thead', null, h('tr', null, ['Name', 'Description', 'Labels', 'Default', 'Revision', 'Updated'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, page.items.map((f) => h('tr', null,
        h('td', { 'data-label': 'Name' }, h('a', { href: '#/firewalls/' + encodeURIComponent(f.id), 'data-test': 'fw-link' }, f.name)),
        h('td', { 'data-label': 'Description' }, f.description || ''),
        h('td', { 'data-label': 'Labels' }, Object.entries(f.labels || {}).map(([k, v]) => h('span', { class: 'tag' }, k + '=' + v))),
        h('td', { 'data-label': 'Default' }, h('span', { class: 'act act-' + f.default_action }, f.default_action)),
        h('td', { 'data-label': 'Revision' }, String(f.revision)),
        h('td', { 'data-label': 'Updated' }, time(f.updated_at)))))));
  }
  results.append(pager(page, (tok) => navigate(listPath(filter, tok))));
});

function toggleForm() {
  const form = document.getElementById('fw-create');
  form.hidden = !form.hidden;
  if (!form.hidden) form.querySelector('input').focus();
}

function createForm() {
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    id: 'fw-create', class: 'card', hidden: true, 'data-test': 'fw-create',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      status.replaceChildren();
      try {
        const res = await api('POST', '/firewalls', { body: {
          name: String(data.get('name')).trim(),
          description: String(data.get('description') || ''),
          default_action: String(data.get('default_action')),
        } });
        navigate('/firewalls/' + encodeURIComponent(res.body.id));
      } catch (err) {
        status.append(errorBox(err));
      }
    },
  },
  h('h2', null, 'New firewall'),
  h('label', { for: 'fw-name' }, 'Name'), h('input', { id: 'fw-name', name: 'name', required: true, maxlength: '255', 'data-test': 'fw-name' }),
  h('label', { for: 'fw-desc' }, 'Description'), h('input', { id: 'fw-desc', name: 'description', maxlength: '1024' }),
  h('label', { for: 'fw-default' }, 'Default action'),
  h('select', { id: 'fw-default', name: 'default_action' }, h('option', { value: 'deny' }, 'deny'), h('option', { value: 'allow' }, 'allow')),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'fw-create-submit' }, 'Create firewall')),
  status);
  return form;
}
