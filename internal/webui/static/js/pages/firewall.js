// firewall.js: one firewall, its policies by priority and each policy's
// rules in position order, a page at a time. Moves, edits and deletes send
// the rule's ETag in If-Match; a 412 shows the rule as it is now beside
// what the user saw and typed.
import { ApiError, api, describeRule, errorBox, h, loading, navigate, route, time } from '../core.js';

const RULES_PAGE = 50;
const enc = encodeURIComponent;

route('/firewalls/:id', async (main, params, query) => {
  const fwID = params.id;
  const fwPath = '/firewalls/' + enc(fwID);
  main.append(loading('Loading the firewall…'));
  const fw = (await api('GET', fwPath)).body;
  main.replaceChildren();
  const base = '#/firewalls/' + enc(fwID);
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/firewalls' }, 'Firewalls'), ' / '),
    h('div', { class: 'titlebar' }, h('h1', { 'data-test': 'fw-title' }, fw.name),
      h('button', { type: 'button', class: 'primary', 'data-test': 'policy-new', onclick: () => toggle('policy-create') }, 'New policy')),
    h('ul', { class: 'subnav', 'aria-label': 'About this firewall' },
      h('li', null, h('a', { href: base + '/evaluate', 'data-test': 'link-evaluate' }, 'What happens to a flow?')),
      h('li', null, h('a', { href: base + '/findings', 'data-test': 'link-findings' }, 'Findings')),
      h('li', null, h('a', { href: base + '/revisions', 'data-test': 'link-revisions' }, 'Revisions')),
      h('li', null, h('a', { href: base + '/change-requests', 'data-test': 'link-change-requests' }, 'Change requests'))),
    h('dl', { class: 'facts' },
      h('dt', null, 'Default action'), h('dd', null, h('span', { class: 'act act-' + fw.default_action }, fw.default_action), ' when no policy decides'),
      h('dt', null, 'Revision'), h('dd', { 'data-test': 'fw-revision' }, String(fw.revision)),
      h('dt', null, 'Updated'), h('dd', null, time(fw.updated_at)),
      fw.description ? [h('dt', null, 'Description'), h('dd', null, fw.description)] : null,
      Object.keys(fw.labels || {}).length ? [h('dt', null, 'Labels'), h('dd', null, Object.entries(fw.labels).map(([k, v]) => h('span', { class: 'tag' }, k + '=' + v)))] : null),
    policyForm(fwPath),
  );
  const policies = h('div', { 'data-test': 'policies' }, loading('Loading policies…'));
  main.append(policies);
  await loadPolicies(policies, fwPath, query.get('rule') || '', '');
});

function toggle(id) {
  const el = document.getElementById(id);
  el.hidden = !el.hidden;
  if (!el.hidden) {
    const first = el.querySelector('input, select, textarea');
    if (first) first.focus();
  }
}

// A small pager of its own for each list on the page: tokens are opaque,
// so going back means remembering the tokens that led here.
function pageNav(state, next, go, label) {
  if (state.tokens.length === 1 && !next) return null;
  return h('nav', { class: 'pager', 'aria-label': label },
    h('button', { type: 'button', 'data-test': 'pager-prev', disabled: state.tokens.length === 1,
      onclick: () => { state.tokens.pop(); go(); } }, 'Previous'),
    h('span', { class: 'pageno' }, 'Page ' + state.tokens.length),
    h('button', { type: 'button', 'data-test': 'pager-next', disabled: !next,
      onclick: () => { state.tokens.push(next); go(); } }, 'Next'));
}

async function loadPolicies(box, fwPath, focusRule, _token) {
  const state = { tokens: [''] };
  const go = async () => {
    box.replaceChildren(loading('Loading policies…'));
    const page = (await api('GET', fwPath + '/filtering-policies', { query: { page_size: 100, page_token: state.tokens[state.tokens.length - 1] } })).body;
    box.replaceChildren();
    if (!page.items.length) {
      box.append(h('p', { 'data-test': 'no-policies' }, 'No policies yet: flows get the firewall’s default action. Add one with “New policy”.'));
    }
    const loads = page.items.map((p) => {
      const sec = policySection(fwPath, p);
      box.append(sec.el);
      return sec.load(focusRule);
    });
    const nav = pageNav(state, page.next_page_token, () => go().catch((e) => box.replaceChildren(errorBox(e))), 'Policy pages');
    if (nav) box.append(nav);
    await Promise.all(loads);
  };
  await go();
}

function policySection(fwPath, p) {
  const pPath = fwPath + '/filtering-policies/' + enc(p.id);
  const formID = 'rule-create-' + p.id;
  const rules = h('div', { class: 'rules', 'data-test': 'rules' });
  const filterInput = h('input', { id: 'rule-filter-' + p.id, type: 'search', name: 'filter', placeholder: 'source_contains("10.1.2.3") AND action = "allow"' });
  const state = { tokens: [''], filter: '', from: 0 };
  const reload = () => loadRules(rules, pPath, p, state).catch((e) => rules.replaceChildren(errorBox(e)));
  const el = h('section', { class: 'policy', id: 'policy-' + p.id, 'data-test': 'policy', 'aria-labelledby': 'policy-h-' + p.id },
    h('header', null,
      h('h2', { id: 'policy-h-' + p.id }, p.name),
      h('span', null, 'priority ', h('strong', null, String(p.priority))),
      h('span', null, 'if no rule matches: ', h('span', { class: 'act act-' + p.default_action }, p.default_action)),
      p.enabled ? null : h('span', { class: 'tag' }, 'disabled'),
      p.description ? h('span', { class: 'desc' }, p.description) : null,
      h('button', { type: 'button', 'data-test': 'rule-new', onclick: () => toggle(formID) }, 'Add rule')),
    h('div', { class: 'body' },
      ruleForm({ id: formID, title: 'New rule in ' + p.name, submit: 'Create rule', withPosition: true,
        save: async (body) => {
          await api('POST', pPath + '/rules', { body });
          state.tokens = [''];
          state.from = 0;
          const form = document.getElementById(formID);
          form.reset();
          form.hidden = true;
          await reload();
        } }),
      h('form', { class: 'filter', role: 'search', onsubmit: (ev) => { ev.preventDefault(); state.filter = filterInput.value.trim(); state.tokens = ['']; state.from = 0; reload(); } },
        h('label', { for: 'rule-filter-' + p.id }, 'Filter rules'), filterInput, h('button', { type: 'submit' }, 'Apply')),
      rules));
  const load = async (focusRule) => {
    if (focusRule) {
      // Start the list a little before the rule asked for, if it is here.
      try {
        const r = (await api('GET', pPath + '/rules/' + enc(focusRule))).body;
        state.from = Math.max(1, r.position - 5);
        state.focus = r.id;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
    }
    await reload();
  };
  return { el, load };
}

async function loadRules(box, pPath, policy, state) {
  box.setAttribute('aria-busy', 'true');
  const filters = [];
  if (state.filter) filters.push('(' + state.filter + ')');
  if (state.from > 1) filters.push('position >= ' + state.from);
  let page;
  try {
    page = (await api('GET', pPath + '/rules', { query: { page_size: RULES_PAGE, page_token: state.tokens[state.tokens.length - 1], filter: filters.join(' AND ') } })).body;
  } finally {
    box.removeAttribute('aria-busy');
  }
  const reload = () => loadRules(box, pPath, policy, state).catch((e) => box.replaceChildren(errorBox(e)));
  box.replaceChildren();
  if (state.from > 1) {
    box.append(h('p', { class: 'notice' }, 'Showing rules from position ' + state.from + '. ',
      h('button', { type: 'button', class: 'link', onclick: () => { state.from = 0; state.tokens = ['']; reload(); } }, 'Show from the first rule')));
  }
  if (!page.items.length) {
    box.append(h('p', { 'data-test': 'no-rules' }, state.filter ? 'No rule matches this filter.' : 'No rules: every flow gets this policy’s default action (' + policy.default_action + ').'));
    return;
  }
  const tbody = h('tbody');
  for (const r of page.items) {
    tbody.append(...ruleRows(pPath, r, reload));
  }
  box.append(h('table', { class: 'list rules-table', 'data-test': 'rules-table' },
    h('caption', { class: 'sr-only' }, 'Rules of ' + policy.name + ', in the order they are evaluated'),
    h('thead', null, h('tr', null, ['#', 'Action', 'Protocol', 'Sources', 'Destinations', 'Ports and services', 'Name', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody));
  const nav = pageNav(state, page.next_page_token, reload, 'Rule pages of ' + policy.name);
  if (nav) box.append(nav);
  if (state.focus) {
    const row = document.getElementById('rule-' + state.focus);
    state.focus = '';
    if (row) {
      row.classList.add('highlight');
      row.scrollIntoView({ block: 'center' });
      const b = row.querySelector('button');
      if (b) b.focus({ preventScroll: true });
    }
  }
}

function addressCell(list, groups) {
  const out = [];
  for (const c of list || []) out.push(h('span', { class: 'tag mono' }, c));
  for (const g of groups || []) out.push(h('a', { class: 'tag group', href: '#/groups/address/' + enc(g.id), title: 'Address group' }, '@' + g.name));
  return out.length ? out : h('span', { class: 'any' }, 'any');
}

function portsCell(r) {
  const out = [];
  if ((r.destination_ports || []).length) out.push(h('div', null, 'to ', r.destination_ports.map((p) => h('span', { class: 'tag mono' }, p))));
  if ((r.source_ports || []).length) out.push(h('div', null, 'from ', r.source_ports.map((p) => h('span', { class: 'tag mono' }, p))));
  for (const g of r.service_groups || []) out.push(h('a', { class: 'tag group', href: '#/groups/service/' + enc(g.id), title: 'Service group' }, '@' + g.name));
  return out.length ? out : h('span', { class: 'any' }, 'any');
}

function label(r) {
  return 'rule ' + r.position + (r.name ? ' (' + r.name + ')' : '');
}

// ruleRows returns the rule's row and a row below it for its forms.
function ruleRows(pPath, r, reload) {
  const rPath = pPath + '/rules/' + enc(r.id);
  const panel = h('td', { colspan: '8' });
  const extra = h('tr', { class: 'rule-extra', hidden: true }, panel);
  const show = (...content) => {
    panel.replaceChildren(...content);
    extra.hidden = false;
  };
  const hide = () => {
    extra.hidden = true;
    panel.replaceChildren();
  };
  const move = async (body) => {
    try {
      await api('POST', rPath + '/move', { body, etag: r.etag });
      await reload();
    } catch (err) {
      await showFailure(err);
    }
  };
  const showFailure = async (err, mine, body) => {
    if (err instanceof ApiError && err.status === 412) {
      show(await conflictView(rPath, r, mine, body, reload, hide));
    } else {
      show(errorBox(err), h('button', { type: 'button', onclick: hide }, 'Close'));
    }
  };
  const moveForm = () => {
    const input = h('input', { id: 'move-to-' + r.id, type: 'number', min: '1', name: 'position', value: String(r.position), required: true, 'data-test': 'move-position' });
    show(h('form', { class: 'inline', 'data-test': 'move-form', onsubmit: (ev) => {
      ev.preventDefault();
      move({ position: Number(input.value) });
    } },
    h('label', { for: 'move-to-' + r.id }, 'Move ' + label(r) + ' to position'), input,
    h('button', { type: 'submit', class: 'primary', 'data-test': 'move-submit' }, 'Move'),
    h('button', { type: 'button', onclick: hide }, 'Cancel')));
    input.focus();
  };
  const editForm = () => {
    const form = ruleForm({ id: 'edit-' + r.id, title: 'Edit ' + label(r), submit: 'Save', rule: r,
      save: async (body, values) => {
        const patch = diffPatch(r, body);
        if (!Object.keys(patch).length) {
          hide();
          return;
        }
        try {
          await api('PATCH', rPath, { body: patch, etag: r.etag });
          await reload();
        } catch (err) {
          await showFailure(err, values, body);
        }
      },
      cancel: hide });
    form.hidden = false;
    show(form);
    form.querySelector('input').focus();
  };
  const deleteAsk = () => {
    show(h('div', { class: 'inline', role: 'group', 'aria-label': 'Confirm delete' },
      h('span', null, 'Delete ' + label(r) + ': ' + describeRule(r) + '?'),
      h('button', { type: 'button', class: 'danger', 'data-test': 'delete-confirm', onclick: async () => {
        try {
          await api('DELETE', rPath, { etag: r.etag });
          await reload();
        } catch (err) {
          await showFailure(err);
        }
      } }, 'Delete'),
      h('button', { type: 'button', onclick: hide }, 'Cancel')));
  };
  const row = h('tr', { id: 'rule-' + r.id, class: ['rule', r.enabled ? '' : 'disabled'], 'data-test': 'rule', 'data-position': String(r.position), 'data-name': r.name },
    h('td', { 'data-label': '#' }, String(r.position)),
    h('td', { 'data-label': 'Action' }, h('span', { class: 'act act-' + r.action }, r.action), r.enabled ? null : h('span', { class: 'tag' }, 'disabled')),
    h('td', { 'data-label': 'Protocol' }, r.protocol),
    h('td', { 'data-label': 'Sources' }, addressCell(r.sources, r.source_groups)),
    h('td', { 'data-label': 'Destinations' }, addressCell(r.destinations, r.destination_groups)),
    h('td', { 'data-label': 'Ports and services' }, portsCell(r)),
    h('td', { 'data-label': 'Name' }, r.name ? h('div', { class: 'name', 'data-test': 'rule-name' }, r.name) : h('div', { class: 'any' }, 'unnamed'),
      r.description ? h('div', { class: 'desc' }, r.description) : null,
      r.expires_at ? h('div', { class: 'desc' }, 'expires ', time(r.expires_at)) : null),
    h('td', { 'data-label': 'Actions' }, h('div', { class: 'tools' },
      h('button', { type: 'button', 'aria-label': 'Move ' + label(r) + ' up', title: 'Move up', disabled: r.position === 1, onclick: () => move({ position: r.position - 1 }) }, '↑'),
      h('button', { type: 'button', 'aria-label': 'Move ' + label(r) + ' down', title: 'Move down', onclick: () => move({ position: r.position + 1 }) }, '↓'),
      h('button', { type: 'button', 'data-test': 'rule-move', 'aria-label': 'Move ' + label(r) + ' to a position', onclick: moveForm }, 'Move…'),
      h('button', { type: 'button', 'data-test': 'rule-edit', 'aria-label': 'Edit ' + label(r), onclick: editForm }, 'Edit'),
      h('button', { type: 'button', class: 'danger', 'data-test': 'rule-delete', 'aria-label': 'Delete ' + label(r), onclick: deleteAsk }, 'Delete'))));
  return [row, extra];
}

// The fields of a rule as the forms show them.
const LISTS = [
  ['sources', 'Sources (CIDRs)', '10.0.0.0/8, 2001:db8::/32'],
  ['source_groups', 'Source groups (names)', 'office'],
  ['destinations', 'Destinations (CIDRs)', '192.0.2.10'],
  ['destination_groups', 'Destination groups (names)', 'web-servers'],
  ['destination_ports', 'Destination ports', '443, 8443-8444'],
  ['source_ports', 'Source ports', '1024-65535'],
  ['service_groups', 'Service groups (names)', 'https'],
];

const FIELD_NAMES = {
  name: 'Name', description: 'Description', action: 'Action', protocol: 'Protocol', enabled: 'Enabled',
  sources: 'Sources', source_groups: 'Source groups', destinations: 'Destinations', destination_groups: 'Destination groups',
  destination_ports: 'Destination ports', source_ports: 'Source ports', service_groups: 'Service groups', position: 'Position',
};

function splitList(s) {
  return String(s || '').split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}

// formValue is a rule's field as a form shows it.
function formValue(r, k) {
  const v = r[k];
  if (Array.isArray(v)) return v.map((x) => (x && typeof x === 'object' ? x.name : x)).join(', ');
  return v === undefined || v === null ? '' : String(v);
}

// ruleForm is the form to create or edit a rule; save(body, values) gets
// the rule input and the raw values typed.
function ruleForm({ id, title, submit, rule, withPosition, save, cancel }) {
  const r = rule || { action: 'allow', protocol: 'any', enabled: true };
  const status = h('div', { 'aria-live': 'polite' });
  const fid = (k) => id + '-' + k;
  const field = (k, text, input) => h('div', null, h('label', { for: fid(k) }, text), input);
  const select = (k, options) => h('select', { id: fid(k), name: k, 'data-test': 'rule-' + k },
    options.map((o) => h('option', { value: o, selected: r[k] === o }, o)));
  const form = h('form', { id, class: 'card rule-form', hidden: true, 'data-test': 'rule-form', onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    const data = new FormData(form);
    const values = Object.fromEntries(data.entries());
    values.enabled = form.elements.enabled.checked;
    const body = {
      name: String(values.name || '').trim(),
      description: String(values.description || ''),
      action: values.action,
      protocol: values.protocol,
      enabled: values.enabled,
    };
    for (const [k] of LISTS) body[k] = splitList(values[k]);
    if (withPosition && values.position) body.position = Number(values.position);
    if (!rule) {
      for (const k of Object.keys(body)) {
        if ((Array.isArray(body[k]) && !body[k].length) || body[k] === '') delete body[k];
      }
    }
    const btn = form.querySelector('button[type="submit"]');
    btn.disabled = true;
    try {
      await save(body, values);
    } catch (err) {
      status.append(errorBox(err));
    } finally {
      btn.disabled = false;
    }
  } },
  h('h3', null, title),
  h('div', { class: 'grid' },
    field('name', 'Name', h('input', { id: fid('name'), name: 'name', maxlength: '255', value: formValue(r, 'name'), 'data-test': 'rule-name-input' })),
    field('action', 'Action', select('action', ['allow', 'deny', 'reject'])),
    field('protocol', 'Protocol', select('protocol', ['any', 'tcp', 'udp', 'icmp', 'icmpv6'])),
    withPosition ? field('position', 'Position (empty: at the end)', h('input', { id: fid('position'), name: 'position', type: 'number', min: '1', 'data-test': 'rule-position' })) : null,
    LISTS.map(([k, text, ph]) => field(k, text, h('input', { id: fid(k), name: k, value: formValue(r, k), placeholder: ph, 'data-test': 'rule-' + k }))),
    field('description', 'Description', h('input', { id: fid('description'), name: 'description', maxlength: '1024', value: formValue(r, 'description'), 'data-test': 'rule-description' })),
    h('div', { class: 'inline check' }, h('input', { id: fid('enabled'), name: 'enabled', type: 'checkbox', checked: r.enabled !== false }), h('label', { for: fid('enabled') }, 'Enabled'))),
  h('p', { class: 'hint' }, 'Lists take commas or spaces between entries; empty means any.'),
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary', 'data-test': 'rule-submit' }, submit),
    h('button', { type: 'button', onclick: () => (cancel ? cancel() : (form.hidden = true)) }, 'Cancel')),
  status);
  return form;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// asInput is a rule's field as the input type has it (groups by name).
function asInput(r, k) {
  const v = r[k];
  if (Array.isArray(v)) return v.map((x) => (x && typeof x === 'object' ? x.name : x));
  return v;
}

// diffPatch is the merge patch from rule r to the body typed.
function diffPatch(r, body) {
  const patch = {};
  for (const [k, v] of Object.entries(body)) {
    if (!same(asInput(r, k), v)) patch[k] = v;
  }
  return patch;
}

// conflictView answers a 412: it reads the rule again and shows, field by
// field, what the user saw, what the rule is now and what they typed.
async function conflictView(rPath, seen, mine, body, reload, close) {
  let now = null;
  try {
    now = (await api('GET', rPath)).body;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const box = h('div', { class: 'error', role: 'alert', 'data-test': 'conflict' });
  if (!now) {
    box.append(h('p', null, h('strong', null, 'This rule was deleted'), ' since you read it.'),
      h('button', { type: 'button', onclick: reload }, 'Reload the rules'));
    return box;
  }
  box.append(h('p', null, h('strong', null, 'This rule changed since you read it.'), ' Nothing was saved. Its fields that changed are marked.'));
  const grid = h('div', { class: 'conflict', role: 'table', 'aria-label': 'What changed' },
    h('div', { role: 'row', class: 'conflict-row' },
      h('span', { role: 'columnheader' }, 'Field'), h('span', { role: 'columnheader' }, 'When you read it'), h('span', { role: 'columnheader' }, 'Now'),
      mine ? h('span', { role: 'columnheader' }, 'Your edit') : null));
  grid.classList.toggle('with-mine', !!mine);
  for (const k of Object.keys(FIELD_NAMES)) {
    const before = formValue(seen, k);
    const after = formValue(now, k);
    const typed = mine ? (k === 'enabled' ? String(!!mine.enabled) : k in mine ? String(mine[k] || '') : '') : null;
    const changed = before !== after;
    if (!changed && (!mine || typed === after || !(k in mine))) continue;
    grid.append(h('div', { role: 'row', class: ['conflict-row', changed ? 'changed' : ''], 'data-test': changed ? 'conflict-changed' : null },
      h('span', { role: 'rowheader' }, FIELD_NAMES[k] + (changed ? ' (changed)' : '')),
      h('span', { role: 'cell' }, before || '—'), h('span', { role: 'cell', 'data-test': 'conflict-now' }, after || '—'),
      mine ? h('span', { role: 'cell' }, typed || '—') : null));
  }
  box.append(grid, h('p', { class: 'now' }, 'Now: ', describeRule(now)),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', 'data-test': 'conflict-reload', onclick: reload }, 'Start again from the current rule'),
      body ? h('button', { type: 'button', 'data-test': 'conflict-overwrite', onclick: async () => {
        // Only the fields the user changed, applied to the rule as now
        // shown, and only if it is still so.
        try {
          await api('PATCH', rPath, { body: diffPatch(seen, body), etag: now.etag });
          await reload();
        } catch (err) {
          box.append(errorBox(err));
        }
      } }, 'Apply my changes to the current rule') : null,
      h('button', { type: 'button', onclick: close }, 'Close')));
  return box;
}

// policyForm creates a policy.
function policyForm(fwPath) {
  const status = h('div', { 'aria-live': 'polite' });
  const form = h('form', { id: 'policy-create', class: 'card', hidden: true, 'data-test': 'policy-form', onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    const d = new FormData(form);
    try {
      await api('POST', fwPath + '/filtering-policies', { body: {
        name: String(d.get('name')).trim(),
        priority: Number(d.get('priority')),
        default_action: String(d.get('default_action')),
        enabled: form.elements.enabled.checked,
        description: String(d.get('description') || ''),
      } });
      navigate(location.hash.slice(1));
    } catch (err) {
      status.append(errorBox(err));
    }
  } },
  h('h2', null, 'New policy'),
  h('div', { class: 'grid' },
    h('div', null, h('label', { for: 'policy-name' }, 'Name'), h('input', { id: 'policy-name', name: 'name', required: true, maxlength: '255', 'data-test': 'policy-name' })),
    h('div', null, h('label', { for: 'policy-priority' }, 'Priority (0–65535, lower first)'), h('input', { id: 'policy-priority', name: 'priority', type: 'number', min: '0', max: '65535', required: true, value: '100', 'data-test': 'policy-priority' })),
    h('div', null, h('label', { for: 'policy-default' }, 'If no rule matches'),
      h('select', { id: 'policy-default', name: 'default_action', 'data-test': 'policy-default' }, ['next', 'deny', 'allow'].map((a) => h('option', { value: a }, a)))),
    h('div', null, h('label', { for: 'policy-desc' }, 'Description'), h('input', { id: 'policy-desc', name: 'description', maxlength: '1024' })),
    h('div', { class: 'inline check' }, h('input', { id: 'policy-enabled', name: 'enabled', type: 'checkbox', checked: true }), h('label', { for: 'policy-enabled' }, 'Enabled'))),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'policy-submit' }, 'Create policy'),
    h('button', { type: 'button', onclick: () => (form.hidden = true) }, 'Cancel')),
  status);
  return form;
}
