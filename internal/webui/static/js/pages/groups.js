// Address and service groups: the lists, a group's members and nested
// groups, and where it is used (firewalls, policies, rules), so that a
// person changing a group knows which rules it moves.
import { api, h, route, navigate, errorBox, loading, time, pager } from '../core.js';
import { ruleHref, page, add, listTable, localPager } from './revisions.js';

const enc = encodeURIComponent;

const kinds = {
  address: { api: '/api/v1/address-groups', title: 'Address groups', one: 'Address group', members: (g) => (g.addresses || []).join(', ') || '—' },
  service: {
    api: '/api/v1/service-groups', title: 'Service groups', one: 'Service group',
    members: (g) => (g.services || []).map(serviceText).join(', ') || '—',
  },
};

function serviceText(s) {
  return s.ports && s.ports.length ? `${s.protocol}/${s.ports.join(',')}` : s.protocol;
}

function groupHref(kind, id) {
  return `#/groups/${kind}/${enc(id)}`;
}

function groupList(kind, query) {
  const k = kinds[kind];
  const param = `${kind}_filter`;
  const filter = query.get(param) || '';
  const id = `${kind}-filter`;
  const input = h('input', { id, name: param, type: 'search', value: filter, 'data-test': `${kind}-filter`, placeholder: 'name = "web-*"' });
  const box = h('div', {});
  const form = h('form', { class: 'filter', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams(query);
    if (input.value.trim()) q.set(param, input.value.trim());
    else q.delete(param);
    navigate(`/groups${q.toString() ? `?${q}` : ''}`);
  } }, h('label', { for: id }, 'Filter (AIP-160) '), input, ' ', h('button', { type: 'submit' }, 'Filter'));
  const load = async (token) => {
    box.replaceChildren(loading(`Loading ${k.title.toLowerCase()}…`));
    const q = { page_size: 25 };
    if (filter) q.filter = filter;
    if (token) q.page_token = token;
    try {
      const res = await api('GET', k.api, { query: q });
      const items = res.body.items || [];
      if (!items.length) {
        box.replaceChildren(h('p', {}, filter ? 'No group matches the filter.' : 'No group yet.'));
        return;
      }
      box.replaceChildren(listTable({ class: 'list groups' },
        h('caption', { class: 'visually-hidden' }, k.title),
        h('thead', {}, h('tr', {}, ['Name', 'Members', 'Nested groups', 'Description', 'Updated'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, items.map((g) => h('tr', { 'data-test': `${kind}-group-row` },
          h('td', {}, h('a', { href: groupHref(kind, g.id), 'data-test': `${kind}-group-link` }, g.name)),
          h('td', {}, k.members(g)),
          h('td', {}, (g.groups || []).map((n) => n.name).join(', ') || '—'),
          h('td', {}, g.description || ''),
          h('td', {}, time(g.updated_at)))))),
      pager(res.body, load, kind));
    } catch (err) {
      box.replaceChildren(errorBox(err));
    }
  };
  load('');
  return h('section', { class: 'group-list', 'aria-labelledby': `${kind}-h`, 'data-test': `${kind}-groups` },
    h('h2', { id: `${kind}-h` }, k.title), form, box);
}

route('/groups', async (outer, params, query) => {
  const main = page(outer);
  main.append(h('h1', {}, 'Groups'),
    h('p', {}, 'Named sets of addresses and of services that rules use. Open a group to see its members and where it is used.'),
    groupList('address', query), groupList('service', query));
});

function usageView(u, kind) {
  const fwLink = (id, name) => h('a', { href: `#/firewalls/${enc(id)}`, 'data-test': 'usage-firewall' }, name || id);
  const fwNames = new Map((u.firewalls || []).map((f) => [f.id, f.name]));
  const polNames = new Map((u.policies || []).map((p) => [p.id, p.name]));
  const none = !(u.rules || []).length && !(u.groups || []).length;
  const section = h('section', { class: 'usage', 'aria-labelledby': 'usage-h', 'data-test': 'group-usage' }, h('h2', { id: 'usage-h' }, 'Where it is used'));
  if (none) {
    section.append(h('p', { 'data-test': 'usage-none' }, 'No rule and no group uses it.'));
    return section;
  }
  if ((u.firewalls || []).length) {
    section.append(h('h3', {}, 'Firewalls'), h('ul', {}, u.firewalls.map((f) => h('li', {}, fwLink(f.id, f.name)))));
  }
  if ((u.policies || []).length) {
    section.append(h('h3', {}, 'Policies'), h('ul', {}, u.policies.map((p) => h('li', { 'data-test': 'usage-policy' },
      h('a', { href: `#/firewalls/${enc(p.firewall_id)}` }, `${p.name}`), ` in ${fwNames.get(p.firewall_id) || p.firewall_id}`))));
  }
  const rules = u.rules || [];
  if (rules.length) {
    section.append(h('h3', {}, `Rules (${rules.length})`), localPager(rules, (shown) => listTable({ class: 'list usage-rules' },
      h('caption', { class: 'visually-hidden' }, 'Rules that use the group'),
      h('thead', {}, h('tr', {}, ['Rule', 'Policy', 'Firewall', 'Field', 'Through'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, shown.map((r) => h('tr', { 'data-test': 'usage-rule' },
        h('td', {}, h('a', { href: ruleHref(r.firewall_id, r.id), 'data-test': 'usage-rule-link' }, r.name || `rule ${r.id}`)),
        h('td', {}, polNames.get(r.policy_id) || r.policy_id),
        h('td', {}, fwLink(r.firewall_id, fwNames.get(r.firewall_id))),
        h('td', {}, r.field.replace('_', ' ')),
        h('td', {}, r.via ? h('a', { href: groupHref(kind, r.via.id) }, r.via.name) : '—'))))), 50, 'rules'));
  }
  if ((u.groups || []).length) {
    section.append(h('h3', {}, 'Groups that nest it'), h('ul', {}, u.groups.map((g) => h('li', {},
      h('a', { href: groupHref(kind, g.id) }, g.name)))));
  }
  return section;
}

/** membersList lists a group's own members, a page at a time: a group holds up to 1024. */
function membersList(items) {
  return localPager(items, (shown) => h('ul', { class: 'members' }, shown.map((m) => h('li', {}, h('code', {}, m)))), 200, 'members');
}

function groupPage(kind) {
  return async (outer, params) => {
    const main = page(outer);
    const k = kinds[kind];
    main.append(h('p', { class: 'crumbs' }, h('a', { href: '#/groups' }, 'All groups')));
    const wait = loading(`Loading the ${k.one.toLowerCase()}…`);
    main.append(wait);
    try {
      const [g, u] = await Promise.all([
        api('GET', `${k.api}/${enc(params.gid)}`), api('GET', `${k.api}/${enc(params.gid)}/usage`),
      ]);
      const grp = g.body;
      wait.remove();
      const labels = Object.entries(grp.labels || {});
      add(main, h('h1', {}, `${k.one} `, h('span', { 'data-test': 'group-name' }, grp.name)),
        grp.description ? h('p', {}, grp.description) : null,
        labels.length ? h('p', { class: 'labels' }, labels.map(([key, v]) => h('span', { class: 'label' }, `${key}=${v}`))) : null,
        h('section', { 'aria-labelledby': 'members-h', 'data-test': 'group-members' }, h('h2', { id: 'members-h' }, 'Members'),
          kind === 'address'
            ? ((grp.addresses || []).length ? membersList(grp.addresses) : h('p', {}, 'No addresses of its own.'))
            : ((grp.services || []).length ? membersList(grp.services.map(serviceText)) : h('p', {}, 'No services of its own.')),
          h('h3', {}, 'Nested groups'),
          (grp.groups || []).length
            ? h('ul', { 'data-test': 'nested-groups' }, grp.groups.map((n) => h('li', {}, h('a', { href: groupHref(kind, n.id) }, n.name))))
            : h('p', {}, 'None.')),
        usageView(u.body, kind),
        h('p', { class: 'muted' }, 'Created ', time(grp.created_at), ', updated ', time(grp.updated_at), '.'));
    } catch (err) {
      wait.remove();
      main.append(errorBox(err));
    }
  };
}

route('/groups/address/:gid', groupPage('address'));
route('/groups/service/:gid', groupPage('service'));
