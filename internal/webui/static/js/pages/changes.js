// Change requests: the list of a firewall's requests, proposing one from
// edits made to a draft of the current tree, and a request's page with its
// impact and the review steps (approve or reject by an approver who is not
// its author; apply or cancel by an editor).
import { api, h, route, navigate, errorBox, loading, time, pager, session } from '../core.js';
import {
  page, put, add, listTable, localPager, fwPath, treeIndex, ruleText, ruleLink, policyName, structuralDiffView, semanticDiffView, valueText,
} from './revisions.js';

const enc = encodeURIComponent;
const states = ['open', 'approved', 'rejected', 'applied', 'cancelled', 'stale'];

function crsPath(fwId) {
  return `${fwPath(fwId)}/change-requests`;
}

function regionsText(n) {
  return `${n} region${n === 1 ? '' : 's'} of flows change${n === 1 ? 's' : ''} decision`;
}

function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, 'data-test': 'cr-state' }, state);
}

// ---- The list -------------------------------------------------------------

route('/firewalls/:id/change-requests', async (outer, params, query) => {
  const main = page(outer);
  const fwId = params.id;
  const state = states.includes(query.get('state')) ? query.get('state') : '';
  main.append(h('p', { class: 'crumbs' }, h('a', { href: `#/firewalls/${enc(fwId)}` }, 'Back to the firewall')),
    h('h1', {}, 'Change requests'),
    h('p', {}, h('a', { href: `#/firewalls/${enc(fwId)}/change-requests/new`, class: 'button', 'data-test': 'new-cr' }, 'Propose a change')));
  const select = h('select', { id: 'cr-state-filter', name: 'state', 'data-test': 'cr-state-filter' },
    h('option', { value: '' }, 'Any state'), states.map((s) => h('option', { value: s, selected: s === state }, s)));
  main.append(h('form', { class: 'filter', onsubmit: (e) => {
    e.preventDefault();
    navigate(`/firewalls/${enc(fwId)}/change-requests${select.value ? `?state=${enc(select.value)}` : ''}`);
  } }, h('label', { for: 'cr-state-filter' }, 'State '), select, ' ', h('button', { type: 'submit' }, 'Filter')));
  const box = h('div', {});
  main.append(box);
  const load = async (token) => {
    box.replaceChildren(loading('Loading change requests…'));
    const q = { page_size: 25 };
    if (state) q.filter = `state = "${state}"`;
    if (token) q.page_token = token;
    try {
      const res = await api('GET', crsPath(fwId), { query: q });
      const items = res.body.items || [];
      if (!items.length) {
        box.replaceChildren(h('p', { 'data-test': 'no-crs' }, state ? `No change request is ${state}.` : 'No change request yet.'));
        return;
      }
      box.replaceChildren(listTable({ class: 'list crs' },
        h('caption', {}, state ? `Change requests that are ${state}, newest first` : 'Change requests, newest first'),
        h('thead', {}, h('tr', {}, ['Title', 'State', 'Author', 'Reviewer', 'Proposed', 'Base', 'Effect'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, items.map((cr) => h('tr', { 'data-test': 'cr-row' },
          h('td', {}, h('a', { href: `#/firewalls/${enc(fwId)}/change-requests/${enc(cr.id)}`, 'data-test': 'cr-link' }, cr.title)),
          h('td', {}, stateBadge(cr.state)), h('td', {}, cr.author), h('td', {}, cr.reviewer || '—'),
          h('td', {}, time(cr.created_at)), h('td', {}, `revision ${cr.base_revision}`),
          h('td', {}, cr.no_op ? 'no flow changes' : regionsText(cr.impact?.semantic?.total ?? 0)))))),
      pager(res.body, load));
    } catch (err) {
      box.replaceChildren(errorBox(err));
    }
  };
  await load('');
});

// ---- Proposing a change ------------------------------------------------------

const ruleFields = [
  { key: 'name', label: 'Name', kind: 'text' },
  { key: 'action', label: 'Action', kind: 'select', options: ['allow', 'deny', 'reject'] },
  { key: 'protocol', label: 'Protocol', kind: 'select', options: ['any', 'tcp', 'udp', 'icmp', 'icmpv6'] },
  { key: 'sources', label: 'Sources (CIDRs, comma-separated; empty: any)', kind: 'list' },
  { key: 'destinations', label: 'Destinations (CIDRs; empty: any)', kind: 'list' },
  { key: 'source_ports', label: 'Source ports (such as 1024-65535; empty: any)', kind: 'list' },
  { key: 'destination_ports', label: 'Destination ports (such as 443; empty: any)', kind: 'list' },
  { key: 'description', label: 'Description', kind: 'text' },
  { key: 'enabled', label: 'Enabled', kind: 'check' },
];

const splitList = (s) => s.split(/[\s,]+/).filter(Boolean);
const sameList = (a, b) => (a || []).join(',') === (b || []).join(',');

/** applyOps replays the draft's operations on a copy of the base tree. */
function applyOps(base, ops) {
  const t = structuredClone(base);
  t.policies = t.policies || [];
  let n = 0;
  const key = (s) => (s || '').toLowerCase();
  const policy = (op) => t.policies.find((p) => (op.policy_id ? p.id === op.policy_id : key(p.name) === key(op.policy_name)));
  for (const op of ops) {
    const p = policy(op);
    if (!p) continue;
    p.rules = p.rules || [];
    const i = p.rules.findIndex((r) => (op.rule_id ? r.id === op.rule_id : op.rule_name && key(r.name) === key(op.rule_name)));
    switch (op.op) {
      case 'create_rule': {
        const r = { ...op.rule, id: `draft-${++n}`, draft: 'added' };
        delete r.position;
        const at = op.rule.position ? Math.min(op.rule.position - 1, p.rules.length) : p.rules.length;
        p.rules.splice(at, 0, r);
        break;
      }
      case 'patch_rule':
        if (i >= 0) p.rules[i] = { ...p.rules[i], ...op.rule_patch, draft: p.rules[i].draft || 'changed' };
        break;
      case 'delete_rule':
        if (i >= 0) p.rules.splice(i, 1);
        break;
      case 'move_rule':
        if (i >= 0) {
          const [r] = p.rules.splice(i, 1);
          p.rules.splice(op.position - 1, 0, { ...r, draft: r.draft || 'moved' });
        }
        break;
      default:
    }
  }
  return t;
}

/**
 * withCreatedIDs gives the rules a replay created the ids the server gave
 * them, which the structural diff lists with their policy and position.
 */
function withCreatedIDs(tree, structural) {
  for (const r of (structural && structural.rules) || []) {
    if (r.change !== 'added' || !r.new_position) continue;
    const p = tree.policies.find((x) => x.id === r.policy_id);
    const at = p && (p.rules || [])[r.new_position - 1];
    if (at && at.draft === 'added') at.id = r.id;
  }
  return tree;
}

/** opText says what one operation does, naming rules as the base tree knows them. */
function opText(op, idx) {
  const pol = op.policy_id || !op.policy_name ? policyName(idx, op.policy_id || '') : `policy ${op.policy_name}`;
  const rule = () => {
    const at = idx.rules.get(op.rule_id);
    if (op.rule_name) return `rule ${op.rule_name}`;
    if (!at) return `rule ${op.rule_id}`;
    return at.rule.name ? `rule ${at.rule.name}` : `rule #${at.position} (${ruleText(at.rule)})`;
  };
  switch (op.op) {
    case 'create_rule':
      return `Add to ${pol}${op.rule.position ? ` at position ${op.rule.position}` : ' at the end'}: ${op.rule.name ? `${op.rule.name}: ` : ''}${ruleText(op.rule)}`;
    case 'patch_rule':
      // An answer lists the fields a patch leaves alone as null, like a reset.
      return `Change ${rule()} in ${pol}: ${Object.entries(op.rule_patch || {}).filter(([, v]) => v !== null)
        .map(([k, v]) => `${k} → ${valueText(v)}`).join('; ') || 'reset fields to their defaults'}`;
    case 'delete_rule':
      return `Delete ${rule()} from ${pol}`;
    case 'move_rule':
      return `Move ${rule()} of ${pol} to position ${op.position || (op.before ? `before ${op.before}` : `after ${op.after}`)}`;
    case 'create_policy':
      return `Add policy ${op.policy?.name}`;
    case 'patch_policy':
      return `Change ${pol}`;
    case 'delete_policy':
      return `Delete ${pol}${op.cascade ? ' and its rules' : ''}`;
    default:
      return op.op;
  }
}

/** ruleForm edits a rule's fields; done(values) gets them as the API takes them. */
function ruleForm(prefix, rule, submitLabel, done, cancel, extra = []) {
  const inputs = {};
  const rows = ruleFields.map((f) => {
    const id = `${prefix}-${f.key}`;
    let input;
    if (f.kind === 'select') {
      input = h('select', { id, name: f.key, 'data-test': `rule-${f.key}` },
        f.options.map((o) => h('option', { value: o, selected: (rule[f.key] || (f.key === 'protocol' ? 'any' : '')) === o }, o)));
    } else if (f.kind === 'check') {
      input = h('input', { id, name: f.key, type: 'checkbox', checked: rule[f.key] !== false, 'data-test': `rule-${f.key}` });
    } else {
      const v = f.kind === 'list' ? (rule[f.key] || []).join(', ') : rule[f.key] || '';
      input = h('input', { id, name: f.key, type: 'text', value: v, 'data-test': `rule-${f.key}`, autocomplete: 'off' });
    }
    inputs[f.key] = input;
    return h('div', { class: `field field-${f.kind}` }, h('label', { for: id }, f.label), input);
  });
  const read = () => {
    const out = {};
    for (const f of ruleFields) {
      const el = inputs[f.key];
      if (f.kind === 'check') out[f.key] = el.checked;
      else if (f.kind === 'list') out[f.key] = splitList(el.value);
      else out[f.key] = el.value.trim();
    }
    return out;
  };
  const groups = ['source_groups', 'destination_groups', 'service_groups'].filter((k) => (rule[k] || []).length);
  return h('form', { class: 'rule-form', 'data-test': `${prefix}-form`, onsubmit: (e) => {
    e.preventDefault();
    done(read(), e.target);
  } },
  rows, extra,
  groups.length ? h('p', { class: 'muted' }, `Its groups (${groups.map((k) => `${k.replace('_', ' ')}: ${rule[k].join(', ')}`).join('; ')}) stay as they are.`) : null,
  h('div', { class: 'buttons' },
    h('button', { type: 'submit', 'data-test': `${prefix}-submit` }, submitLabel),
    cancel ? h('button', { type: 'button', onclick: cancel }, 'Cancel') : null));
}

/** patchOf keeps the fields an edit changed, as a JSON merge patch. */
function patchOf(before, after) {
  const patch = {};
  for (const f of ruleFields) {
    const a = after[f.key];
    const b = before[f.key];
    if (f.kind === 'list' ? !sameList(a, b) : f.kind === 'check' ? a !== (b !== false) : a !== (b || (f.key === 'protocol' ? 'any' : ''))) {
      patch[f.key] = a;
    }
  }
  if ('name' in patch && patch.name === '') patch.name = null;
  if ('description' in patch && patch.description === '') patch.description = null;
  return patch;
}

function newRuleBody(v, position) {
  const r = { action: v.action, protocol: v.protocol };
  for (const k of ['name', 'description']) if (v[k]) r[k] = v[k];
  for (const k of ['sources', 'destinations', 'source_ports', 'destination_ports']) if (v[k].length) r[k] = v[k];
  if (!v.enabled) r.enabled = false;
  if (position) r.position = position;
  return r;
}

route('/firewalls/:id/change-requests/new', async (outer, params) => {
  const main = page(outer);
  const fwId = params.id;
  main.append(h('p', { class: 'crumbs' }, h('a', { href: `#/firewalls/${enc(fwId)}/change-requests` }, 'Back to the change requests')),
    h('h1', {}, 'Propose a change'));
  const wait = loading('Loading the firewall…');
  main.append(wait);
  let base;
  try {
    base = (await api('GET', `${fwPath(fwId)}/tree`)).body;
  } catch (err) {
    wait.remove();
    main.append(errorBox(err));
    return;
  }
  wait.remove();
  base.policies = [...(base.policies || [])].sort((a, b) => a.priority - b.priority);
  const idx = treeIndex(base);
  const ops = [];
  main.append(h('p', {}, `Edit a draft of ${base.name} as it is at revision ${base.revision}. Nothing changes on the firewall: the edits become a change request, which an approver reviews before an editor applies it.`));

  const draftBox = h('section', { class: 'draft', 'aria-labelledby': 'draft-h' });
  const editorBox = h('section', { class: 'rule-editor', 'aria-labelledby': 'editor-h' });
  const opsBox = h('section', { class: 'pending-ops', 'aria-labelledby': 'ops-h', 'data-test': 'pending-ops' });
  const status = h('p', { role: 'status', class: 'hint', 'data-test': 'draft-status', tabindex: '-1' });

  const pages = new Map(); // policy id → the draft page shown
  const draftPageSize = 50;
  let refocus = null;
  const push = (op, what, test = 'edit-rule') => {
    ops.push(op);
    refocus = op.rule_id ? { ruleId: op.rule_id, test } : null;
    status.textContent = `${what}. ${ops.length} pending operation${ops.length === 1 ? '' : 's'}.`;
    render();
  };

  const showAdd = () => {
    const polSelect = h('select', { id: 'add-policy', name: 'policy', 'data-test': 'add-policy' },
      base.policies.map((p) => h('option', { value: p.id }, p.name)));
    const pos = h('input', { id: 'add-position', name: 'position', type: 'number', min: '1', 'data-test': 'add-position' });
    editorBox.replaceChildren(h('h2', { id: 'editor-h' }, 'Add a rule'),
      base.policies.length
        ? ruleForm('add-rule', { action: 'allow', protocol: 'tcp' }, 'Add the rule to the draft', (v) => {
          const position = Number(pos.value) || 0;
          push({ op: 'create_rule', policy_id: polSelect.value, rule: newRuleBody(v, position) }, 'Rule added to the draft');
          showAdd();
        }, null, [
          h('div', { class: 'field' }, h('label', { for: 'add-policy' }, 'Policy'), polSelect),
          h('div', { class: 'field' }, h('label', { for: 'add-position' }, 'Position (empty: at the end)'), pos)])
        : h('p', {}, 'The firewall has no policy to add a rule to.'));
  };

  const showEdit = (p, r) => {
    const name = r.name || `#${p.rules.indexOf(r) + 1}`;
    put(editorBox, h('h2', { id: 'editor-h' }, `Edit rule ${name} of ${p.name}`),
      ruleForm('edit-rule', r, 'Keep the edit in the draft', (v) => {
        const patch = patchOf(r, v);
        if (!Object.keys(patch).length) {
          status.textContent = 'Nothing was changed.';
          showAdd();
          return;
        }
        push({ op: 'patch_rule', policy_id: p.id, rule_id: r.id, rule_patch: patch }, `Edit of rule ${name} kept`);
        showAdd();
      }, () => showAdd()));
    editorBox.querySelector('input, select')?.focus();
  };

  const render = () => {
    const draft = applyOps(base, ops);
    draftBox.replaceChildren(h('h2', { id: 'draft-h' }, 'Draft'));
    if (!draft.policies.length) draftBox.append(h('p', {}, 'The firewall has no policies.'));
    for (const p of draft.policies) {
      const rules = p.rules || [];
      draftBox.append(h('h3', {}, p.name, ' ', h('span', { class: 'muted' }, `priority ${p.priority}, default ${p.default_action}`)));
      if (!rules.length) {
        draftBox.append(h('p', { class: 'muted' }, 'No rules.'));
        continue;
      }
      const st = pages.get(p.id) || { start: 0 };
      pages.set(p.id, st);
      const target = refocus ? rules.findIndex((r) => r.id === refocus.ruleId) : -1;
      if (target >= 0) st.start = target; // the page that holds the rule just moved
      draftBox.append(localPager(rules, (shown, from) => listTable({ class: 'list draft-rules' },
        h('caption', { class: 'visually-hidden' }, `Rules of ${p.name} in the draft`),
        h('thead', {}, h('tr', {}, ['#', 'Rule', 'Change', 'Edit'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, shown.map((r, k) => {
          const i = from + k;
          const label = r.name || `#${i + 1}`;
          const isNew = r.draft === 'added';
          const btn = (test, text, aria, onclick, disabled = false) => h('button', { type: 'button', 'data-test': test, 'aria-label': `${aria} ${label}`, disabled, onclick }, text);
          return h('tr', { class: r.draft ? `diff-${r.draft}` : '', 'data-test': 'draft-rule', 'data-rule-id': r.id, 'data-rule-name': r.name || '' },
            h('td', {}, String(i + 1)),
            h('td', {}, r.name ? h('strong', {}, r.name, ': ') : null, ruleText(r)),
            h('td', {}, r.draft ? h('span', { class: `badge badge-${r.draft}` }, r.draft) : ''),
            h('td', { class: 'row-actions' }, isNew
              ? h('span', { class: 'muted' }, 'new: undo to change')
              : [
                btn('edit-rule', 'Edit', 'Edit rule', () => showEdit(p, r)),
                btn('move-up', 'Up', 'Move up rule', () => push({ op: 'move_rule', policy_id: p.id, rule_id: r.id, position: i }, `Rule ${label} moved up`, 'move-up'), i === 0),
                btn('move-down', 'Down', 'Move down rule', () => push({ op: 'move_rule', policy_id: p.id, rule_id: r.id, position: i + 2 }, `Rule ${label} moved down`, 'move-down'), i === rules.length - 1),
                btn('delete-rule', 'Delete', 'Delete rule', () => push({ op: 'delete_rule', policy_id: p.id, rule_id: r.id }, `Rule ${label} deleted from the draft`)),
              ]));
        }))), draftPageSize, `rules of ${p.name}`, st));
    }
    // Keep the keyboard where it was: on the moved rule's button, else
    // on the status line that says what happened.
    if (refocus) {
      const row = draftBox.querySelector(`[data-rule-id="${CSS.escape(refocus.ruleId)}"]`);
      const b = row && (row.querySelector(`[data-test="${refocus.test}"]:not([disabled])`) || row.querySelector('button:not([disabled])'));
      (b || status).focus();
      refocus = null;
    }
    put(opsBox, h('h2', { id: 'ops-h' }, `Pending operations (${ops.length})`),
      ops.length
        ? h('ol', {}, ops.map((op) => h('li', { 'data-test': 'pending-op' }, opText(op, idx))))
        : h('p', {}, 'None yet: add, edit, move or delete rules above.'),
      ops.length ? h('div', { class: 'buttons' },
        h('button', { type: 'button', 'data-test': 'undo-op', onclick: () => {
          ops.pop();
          status.textContent = `Last operation undone. ${ops.length} pending.`;
          render();
        } }, 'Undo the last operation'),
        h('button', { type: 'button', 'data-test': 'discard-ops', onclick: () => {
          ops.length = 0;
          status.textContent = 'Draft discarded.';
          render();
        } }, 'Discard the draft')) : null);
  };

  const title = h('input', { id: 'cr-title', name: 'title', type: 'text', required: true, maxlength: '255', 'data-test': 'cr-title' });
  const desc = h('textarea', { id: 'cr-description', name: 'description', rows: '3', 'data-test': 'cr-description' });
  const submitError = h('div', { 'data-test': 'cr-submit-error' });
  const submit = h('button', { type: 'submit', 'data-test': 'cr-submit' }, 'Propose the change');
  const form = h('form', { class: 'cr-form', 'aria-labelledby': 'submit-h', onsubmit: async (e) => {
    e.preventDefault();
    submitError.replaceChildren();
    if (!ops.length) {
      submitError.replaceChildren(h('p', { role: 'alert' }, 'The draft has no operation yet.'));
      return;
    }
    if (!title.value.trim()) {
      submitError.replaceChildren(h('p', { role: 'alert' }, 'Give the change a title.'));
      title.focus();
      return;
    }
    submit.disabled = true;
    submitError.replaceChildren(loading('Proposing…'));
    try {
      const res = await api('POST', crsPath(fwId), { body: {
        title: title.value.trim(), description: desc.value.trim(), base_revision: base.revision, operations: ops,
      } });
      navigate(`/firewalls/${enc(fwId)}/change-requests/${enc(res.body.id)}`);
    } catch (err) {
      submit.disabled = false;
      submitError.replaceChildren(errorBox(err));
    }
  } },
  h('h2', { id: 'submit-h' }, 'Propose'),
  h('div', { class: 'field' }, h('label', { for: 'cr-title' }, 'Title'), title),
  h('div', { class: 'field' }, h('label', { for: 'cr-description' }, 'Why (for the reviewer)'), desc),
  h('p', { class: 'muted' }, `Written against revision ${base.revision}.`),
  submit, submitError);

  main.append(status, h('div', { class: 'draft-layout' }, draftBox, h('div', {}, editorBox, opsBox, form)));
  showAdd();
  render();
});

// ---- A change request ----------------------------------------------------------

const actions = [
  { name: 'approve', label: 'Approve', when: ['open'], role: 'approver' },
  { name: 'reject', label: 'Reject', when: ['open'], role: 'approver' },
  { name: 'apply', label: 'Apply', when: ['approved'], role: 'editor' },
  { name: 'cancel', label: 'Cancel the request', when: ['open', 'approved'], role: 'editor' },
];

function findingsList(fwId, idx, list, test, empty) {
  if (!list || !list.length) return h('p', { 'data-test': `${test}-none` }, empty);
  return h('ul', { class: 'finding-list', 'data-test': test }, list.map((f) => h('li', { class: `finding finding-${f.severity}`, 'data-test': `${test}-item` },
    h('span', { class: `badge sev-${f.severity}` }, f.severity), ' ', h('strong', {}, f.kind.replace('_', ' ')), ' ',
    f.rule_id && idx.rules.has(f.rule_id) ? ruleLink(fwId, idx, f.rule_id) : null,
    h('p', { class: 'finding-message' }, f.message))));
}

/**
 * refusal is errorBox for a refused step. A 403 that names no missing role
 * is the four-eyes rule: the token has the role, but its holder wrote the
 * request.
 */
function refusal(err) {
  const box = errorBox(err);
  const detail = (err && err.problem && err.problem.detail) || '';
  if (err && err.status === 403 && !/needs the \w+ role/.test(detail)) {
    box.append(h('p', { 'data-test': 'four-eyes' }, 'Four eyes: the author of a change request cannot approve or reject it. Another approver must.'));
  }
  return box;
}

async function renderCR(main, fwId, crId, notice) {
  const wait = loading('Loading the change request…');
  main.replaceChildren(h('p', { class: 'crumbs' }, h('a', { href: `#/firewalls/${enc(fwId)}/change-requests` }, 'Back to the change requests')), wait);
  let cr;
  let etag;
  try {
    const res = await api('GET', `${crsPath(fwId)}/${enc(crId)}`);
    cr = res.body;
    etag = res.etag;
  } catch (err) {
    wait.replaceWith(errorBox(err));
    return;
  }
  // The base tree names the rules the request acts on; it may be pruned.
  let baseTree = { policies: [] };
  try {
    baseTree = (await api('GET', `${fwPath(fwId)}/revisions/${cr.base_revision}`)).body;
  } catch {
    try {
      baseTree = (await api('GET', `${fwPath(fwId)}/tree`)).body;
    } catch { /* names fall back to ids */ }
  }
  const idx = treeIndex(baseTree);
  wait.remove();
  const me = session() || { sub: '', roles: [] };
  const roles = me.roles || [];
  add(main, h('h1', {}, cr.title),
    notice ? h('p', { role: 'status', class: 'notice', 'data-test': 'cr-notice' }, notice) : null,
    h('dl', { class: 'facts' },
      h('dt', {}, 'State'), h('dd', {}, stateBadge(cr.state)),
      h('dt', {}, 'Author'), h('dd', { 'data-test': 'cr-author' }, cr.author),
      h('dt', {}, 'Reviewer'), h('dd', {}, cr.reviewer || '—'),
      h('dt', {}, 'Proposed'), h('dd', {}, time(cr.created_at)),
      h('dt', {}, 'Base'), h('dd', {}, `revision ${cr.base_revision}`),
      cr.applied_revision ? [h('dt', {}, 'Applied as'), h('dd', {}, h('a', { href: `#/firewalls/${enc(fwId)}/revisions?a=${cr.base_revision}&b=${cr.applied_revision}` }, `revision ${cr.applied_revision}`))] : null),
    cr.description ? h('p', { class: 'cr-description' }, cr.description) : null,
    cr.stale_reason ? h('p', { class: 'warn' }, `Stale: ${cr.stale_reason}`) : null);

  if (cr.operations && cr.operations.length) {
    main.append(h('section', { 'aria-labelledby': 'cr-ops-h' }, h('h2', { id: 'cr-ops-h' }, 'Operations'),
      h('ol', { 'data-test': 'cr-operations' }, cr.operations.map((op) => h('li', {}, opText(op, idx))))));
  } else if (cr.candidate) {
    const n = (cr.candidate.policies || []).reduce((s, p) => s + (p.rules || []).length, 0);
    main.append(h('p', {}, `Proposes a whole tree: ${(cr.candidate.policies || []).length} policies, ${n} rules.`));
  }

  const im = cr.impact || {};
  // The rules' places after the change: the candidate's, or the base's with the operations replayed.
  const newIdx = cr.candidate ? treeIndex(cr.candidate) : treeIndex(withCreatedIDs(applyOps(baseTree, cr.operations || []), im.structural));
  add(main, h('section', { class: 'impact', 'aria-labelledby': 'impact-h', 'data-test': 'cr-impact' },
    h('h2', { id: 'impact-h' }, 'Impact'),
    cr.no_op
      ? h('p', { class: 'notice', 'data-test': 'cr-noop' }, 'No-op: no flow is decided differently. The traffic is already handled as this change would handle it.')
      : h('p', { 'data-test': 'cr-effect' }, `${regionsText(im.semantic?.total ?? 0)}.`),
    structuralDiffView(fwId, im.structural || {}, idx, newIdx),
    semanticDiffView(fwId, im.semantic, idx, newIdx),
    h('h3', {}, 'Findings the change adds'),
    findingsList(fwId, newIdx, im.findings_added, 'findings-added', 'None.'),
    h('h3', {}, 'Findings the change removes'),
    findingsList(fwId, idx, im.findings_removed, 'findings-removed', 'None.')));

  if (cr.comments && cr.comments.length) {
    main.append(h('section', { 'aria-labelledby': 'review-h' }, h('h2', { id: 'review-h' }, 'Review'),
      h('ol', { class: 'comments', 'data-test': 'cr-comments' }, cr.comments.map((c) => h('li', {},
        time(c.at), ' ', h('strong', {}, c.actor), ` ${c.action}`, c.text ? `: ${c.text}` : '')))));
  }

  const possible = actions.filter((a) => a.when.includes(cr.state));
  if (!possible.length) return;
  const comment = h('textarea', { id: 'cr-comment', name: 'comment', rows: '2', 'data-test': 'cr-comment' });
  const result = h('div', { 'data-test': 'cr-action-result' });
  const act = async (a, button) => {
    result.replaceChildren(loading(`${a.label}…`));
    for (const b of buttons) b.disabled = true;
    try {
      const body = comment.value.trim() ? { comment: comment.value.trim() } : {};
      const res = await api('POST', `${crsPath(fwId)}/${enc(crId)}/${a.name}`, { body, etag });
      await renderCR(main, fwId, crId, `Done: the request is now ${res.body.state}.`);
    } catch (err) {
      for (const b of buttons) b.disabled = false;
      const box = refusal(err);
      if (err && (err.status === 412 || err.status === 409)) {
        // The request moved on (another reviewer, the author, a change of
        // the firewall): offer its current state.
        const reload = h('button', { type: 'button', 'data-test': 'cr-reload', onclick: () => renderCR(main, fwId, crId, '') }, 'Show the request as it is now');
        box.append(h('p', {}, reload));
        result.replaceChildren(box);
        reload.focus();
        return;
      }
      result.replaceChildren(box);
      button.focus();
    }
  };
  const buttons = possible.map((a) => {
    const b = h('button', { type: 'button', 'data-test': `cr-${a.name}`, class: 'cr-step', onclick: () => act(a, b) }, a.label);
    return b;
  });
  const holds = (role) => roles.includes('admin') || roles.includes(role);
  const missing = [...new Set(possible.filter((a) => !holds(a.role)).map((a) => a.role))];
  add(main, h('section', { class: 'cr-actions', 'aria-labelledby': 'actions-h' },
    h('h2', { id: 'actions-h' }, 'Review'),
    h('p', { class: 'muted' }, 'Approving and rejecting need the approver role and are never for the request\'s author; applying and cancelling need the editor role. ',
      me.sub ? `You are ${me.sub} (${roles.join(', ') || 'no role'}).` : ''),
    missing.length ? h('p', { class: 'hint' }, `Your token lacks the ${missing.join(' and ')} role${missing.length > 1 ? 's' : ''}: the server will refuse those steps.`) : null,
    cr.author === me.sub && cr.state === 'open' ? h('p', { class: 'hint' }, 'You wrote this request: another person must approve or reject it.') : null,
    h('div', { class: 'field' }, h('label', { for: 'cr-comment' }, 'Comment (optional)'), comment),
    h('div', { class: 'buttons' }, buttons),
    result));
}

route('/firewalls/:id/change-requests/:cr', async (outer, params) => {
  const main = page(outer);
  await renderCR(main, params.id, params.cr, '');
});
