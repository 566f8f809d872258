// Revisions: a firewall's history, and any two revisions side by side with
// the structural diff (what was edited) and the semantic diff (which flows
// are decided differently). The diff views are exported: the change
// request page shows a change's impact with them.
import { api, h, route, navigate, errorBox, loading, time, pager, describeRule } from '../core.js';

const enc = encodeURIComponent;

/**
 * page gives a render a container of its own in <main>: when a newer
 * navigation empties <main> while this render still awaits the API, what
 * it appends later lands in a detached element, not on the new page.
 */
export function page(outer) {
  const el = h('div', { class: 'page' });
  outer.append(el);
  return el;
}

/** put sets el's children, skipping null and false as h() does (the DOM's own append would write "null"). */
export function put(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  return el;
}

/** add appends to el, skipping null and false as h() does. */
export function add(el, ...kids) {
  el.append(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  return el;
}

/**
 * listTable is h('table', ...) whose cells carry their column's heading as
 * data-label, which the narrow-screen layout shows beside each value.
 */
export function listTable(attrs, ...kids) {
  const table = h('table', attrs, ...kids);
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of table.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => td.setAttribute('data-label', heads[i] || ''));
  }
  return table;
}

/** fwPath is the API path of a firewall. */
export function fwPath(id) {
  return `/api/v1/firewalls/${enc(id)}`;
}

/** evalHref is the evaluator's address prefilled with a flow. */
export function evalHref(fwId, flow) {
  const q = new URLSearchParams();
  for (const k of ['source_ip', 'destination_ip', 'protocol', 'source_port', 'destination_port']) {
    if (flow && flow[k] !== undefined && flow[k] !== null && flow[k] !== '') q.set(k, String(flow[k]));
  }
  return `#/firewalls/${enc(fwId)}/evaluate?${q}`;
}

/** ruleHref is the firewall page scrolled to a rule. */
export function ruleHref(fwId, ruleId) {
  return `#/firewalls/${enc(fwId)}?rule=${enc(ruleId)}`;
}

/** flowText is a flow in one line: tcp 10.0.0.1:5000 → 192.0.2.1:443. */
export function flowText(f) {
  const port = (p) => (p === undefined || p === null ? '' : `:${p}`);
  return `${f.protocol} ${f.source_ip}${port(f.source_port)} → ${f.destination_ip}${port(f.destination_port)}`;
}

/** ruleText is describeRule for a rule of an answer or of a tree document, which names its groups by name only. */
export function ruleText(rule) {
  const refs = (list) => (list || []).map((g) => (typeof g === 'string' ? { name: g } : g));
  return describeRule({ ...rule, source_groups: refs(rule.source_groups), destination_groups: refs(rule.destination_groups),
    service_groups: refs(rule.service_groups) });
}

/**
 * treeIndex maps a tree document's rule and policy ids to where they are:
 * {rules: Map(id → {rule, policy, position}), policies: Map(id → policy)}.
 */
export function treeIndex(tree) {
  const rules = new Map();
  const policies = new Map();
  for (const p of (tree && tree.policies) || []) {
    policies.set(p.id, p);
    (p.rules || []).forEach((r, i) => rules.set(r.id, { rule: r, policy: p, position: i + 1 }));
  }
  return { rules, policies };
}

/** ruleName names a rule for a person: its name, else its place. */
export function ruleName(idx, ruleId) {
  const at = idx && idx.rules.get(ruleId);
  if (!at) return `rule ${ruleId}`;
  const where = `#${at.position} of ${at.policy.name}`;
  return at.rule.name ? `${at.rule.name} (${where})` : `rule ${where}`;
}

/** ruleLink links a rule to its place on the firewall page, with its description when known. */
export function ruleLink(fwId, idx, ruleId, test = 'rule-link', withText = true) {
  const at = idx && idx.rules.get(ruleId);
  return h('span', { class: 'rule-ref' },
    h('a', { href: ruleHref(fwId, ruleId), 'data-test': test, 'data-rule-id': ruleId, title: at ? ruleText(at.rule) : null }, ruleName(idx, ruleId)),
    at && withText ? h('span', { class: 'rule-desc' }, ' ', ruleText(at.rule)) : null);
}

/** policyName names a policy by name when known. */
export function policyName(idx, policyId) {
  const p = idx && idx.policies.get(policyId);
  return p ? `policy ${p.name}` : `policy ${policyId}`;
}

/** decisionView says what decided a flow and how. */
export function decisionView(fwId, idx, d) {
  if (!d) return h('span', {}, '—');
  const act = h('span', { class: `action action-${d.action}` }, d.action);
  switch (d.decided_by) {
    case 'rule':
      return h('span', { class: 'decided' }, act, ' by ', ruleLink(fwId, idx, d.rule_id, 'rule-link', false));
    case 'policy_default':
      return h('span', { class: 'decided' }, act, ` by the default of ${policyName(idx, d.policy_id)}`);
    default:
      return h('span', { class: 'decided' }, act, ' by the firewall default');
  }
}

/** evalLink is a one-click link to the evaluator with the flow filled in. */
export function evalLink(fwId, flow, test = 'evaluate-example') {
  return h('a', { href: evalHref(fwId, flow), class: 'eval-link', 'data-test': test,
    'aria-label': `Evaluate ${flowText(flow)}` }, 'Evaluate this flow');
}

/** flowView shows a flow with a link to the evaluator. */
export function flowView(fwId, flow) {
  return h('span', { class: 'flow' }, h('code', {}, flowText(flow)), ' ', evalLink(fwId, flow));
}

/**
 * localPager shows a long list a page at a time, for lists an answer gives
 * whole. render(shown, start) gets the items of the page and the index of
 * the first; state.start, if given, keeps the page across renders.
 */
export function localPager(items, render, size = 50, label = 'items', state = { start: 0 }) {
  const box = h('div', { class: 'local-pages' });
  const show = (start) => {
    state.start = start;
    const end = Math.min(start + size, items.length);
    const nav = items.length > size
      ? h('nav', { class: 'pager', 'aria-label': `Pages of ${label}` },
        h('button', { type: 'button', disabled: start === 0, onclick: () => show(Math.max(0, start - size)) }, 'Previous'),
        h('span', { role: 'status' }, ` ${start + 1}–${end} of ${items.length} `),
        h('button', { type: 'button', disabled: end >= items.length, onclick: () => show(end) }, 'Next'))
      : null;
    put(box, render(items.slice(start, end), start), nav);
  };
  const last = Math.max(0, Math.floor((items.length - 1) / size) * size);
  show(Math.min(Math.floor((state.start || 0) / size) * size, last));
  return box;
}

/** valueText renders a diffed field's JSON value. */
export function valueText(v) {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) {
    if (!v.length) return 'any';
    return v.map((x) => (typeof x === 'object' && x !== null ? x.name || JSON.stringify(x) : String(x))).join(', ');
  }
  if (typeof v === 'object') return JSON.stringify(v);
  if (v === '') return '""';
  return String(v);
}

function fieldTable(fields, caption) {
  if (!fields || !fields.length) return null;
  return h('table', { class: 'fields' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'))),
    h('tbody', {}, fields.map((f) => h('tr', {},
      h('th', { scope: 'row' }, f.field),
      h('td', { class: 'old' }, h('del', {}, valueText(f.old))),
      h('td', { class: 'new' }, h('ins', {}, valueText(f.new)))))));
}

const changeWords = { added: 'Added', removed: 'Removed', changed: 'Changed', moved: 'Moved' };

/**
 * structuralDiffView lists what was edited: the firewall's fields,
 * policies and rules added, removed, changed field by field and moved.
 * oldIdx and newIdx (tree indexes, either may be null) name the rules.
 */
export function structuralDiffView(fwId, d, oldIdx, newIdx) {
  const box = h('section', { class: 'structural-diff', 'data-test': 'structural-diff', 'aria-labelledby': 'structural-h' },
    h('h3', { id: 'structural-h' }, 'Structural diff'));
  const fw = d.firewall || [];
  const pols = d.policies || [];
  const rules = d.rules || [];
  if (!fw.length && !pols.length && !rules.length) {
    box.append(h('p', { 'data-test': 'structural-empty' }, 'No policy or rule was added, removed, changed or moved.'));
    return box;
  }
  if (fw.length) box.append(h('h4', {}, 'Firewall'), fieldTable(fw, 'Firewall fields that changed'));
  if (pols.length) {
    box.append(h('h4', {}, 'Policies'), h('ul', { class: 'diff-list' }, pols.map((p) => h('li', { class: `diff-${p.change}`, 'data-test': `policy-${p.change}` },
      h('span', { class: `badge badge-${p.change}` }, changeWords[p.change] || p.change), ' ',
      h('strong', {}, p.name || p.id), fieldTable(p.fields, `Fields of policy ${p.name} that changed`)))));
  }
  if (rules.length) {
    box.append(h('h4', {}, 'Rules'), localPager(rules, (page) => h('ul', { class: 'diff-list' }, page.map((r) => {
      const idx = r.change === 'removed' ? oldIdx : newIdx || oldIdx;
      const at = (idx && idx.rules.get(r.id)) || (oldIdx && oldIdx.rules.get(r.id));
      const polIdx = (newIdx && newIdx.policies.get(r.policy_id)) ? newIdx : oldIdx;
      const moved = r.change === 'moved' || r.moved;
      const where = [];
      if (moved && r.old_position && r.new_position) where.push(`moved from position ${r.old_position} to ${r.new_position}`);
      else if (r.change === 'added' && r.new_position) where.push(`at position ${r.new_position}`);
      else if (r.change === 'removed' && r.old_position) where.push(`was at position ${r.old_position}`);
      if (r.old_policy_id) where.push(`from ${policyName(oldIdx, r.old_policy_id)}`);
      const name = r.name || (at && at.rule.name) || '';
      return h('li', { class: `diff-${r.change}`, 'data-test': `rule-${r.change}`, 'data-rule-id': r.id },
        h('span', { class: `badge badge-${r.change}` }, changeWords[r.change] || r.change),
        moved && r.change !== 'moved' ? h('span', { class: 'badge badge-moved' }, 'Moved') : null, ' ',
        r.change === 'removed'
          ? h('strong', {}, name ? `rule ${name}` : `rule ${r.id}`)
          : h('a', { href: ruleHref(fwId, r.id), 'data-test': 'rule-link' }, name ? `rule ${name}` : `rule ${r.id}`),
        ` in ${policyName(polIdx, r.policy_id)}`,
        where.length ? `, ${where.join(', ')}` : '',
        at ? h('div', { class: 'rule-desc' }, ruleText(at.rule)) : null,
        fieldTable(r.fields, `Fields of rule ${name || r.id} that changed`));
    })), 50, 'changed rules'));
  }
  return box;
}

/**
 * semanticDiffView lists the regions of flows whose decision changes, each
 * with an example flow one click from the evaluator.
 */
export function semanticDiffView(fwId, s, oldIdx, newIdx) {
  const box = h('section', { class: 'semantic-diff', 'data-test': 'semantic-diff', 'aria-labelledby': 'semantic-h' },
    h('h3', { id: 'semantic-h' }, 'Semantic diff: flows decided differently'));
  if (!s || s.no_op || !s.total) {
    box.append(h('p', { 'data-test': 'semantic-none' }, 'No flow is decided differently: every flow gets the same action as before.'));
    return box;
  }
  const regions = s.regions || [];
  box.append(h('p', { 'data-test': 'semantic-total' },
    `${s.total} region${s.total === 1 ? '' : 's'} of flows change${s.total === 1 ? 's' : ''} decision`,
    regions.length < s.total ? ` (the first ${regions.length} are listed)` : '', '. Each row gives one flow of the region.'));
  box.append(localPager(regions, (page) => listTable({ class: 'list regions' },
    h('caption', { class: 'visually-hidden' }, 'Regions whose decision changes'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Example flow'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'), h('th', { scope: 'col' }, 'Try it'))),
    h('tbody', {}, page.map((r) => h('tr', { 'data-test': 'region' },
      h('td', {}, h('code', {}, flowText(r.example))),
      h('td', {}, decisionView(fwId, oldIdx, r.old)),
      h('td', {}, decisionView(fwId, newIdx, r.new)),
      h('td', {}, evalLink(fwId, r.example)))))), 50, 'regions'));
  return box;
}

/** treeColumn shows one side of a compare: the tree's policies and rules, with the diff's marks. */
function treeColumn(fwId, label, tree, marks, test) {
  const col = h('section', { class: 'tree-side', 'data-test': test, 'aria-label': label }, h('h3', {}, label));
  const pols = [...((tree && tree.policies) || [])].sort((a, b) => a.priority - b.priority);
  if (!pols.length) col.append(h('p', {}, 'No policies.'));
  for (const p of pols) {
    const rules = p.rules || [];
    col.append(h('h4', {}, `${p.name} `, h('span', { class: 'muted' }, `priority ${p.priority}, default ${p.default_action}${p.enabled === false ? ', disabled' : ''}`)));
    if (!rules.length) {
      col.append(h('p', { class: 'muted' }, 'No rules.'));
      continue;
    }
    col.append(localPager(rules, (page) => h('ol', { class: 'tree-rules', start: String(rules.indexOf(page[0]) + 1) }, page.map((r) => {
      const m = marks.get(r.id);
      return h('li', { class: m ? `diff-${m}` : '' },
        m ? h('span', { class: `badge badge-${m}` }, changeWords[m] || m) : null, m ? ' ' : null,
        r.name ? h('strong', {}, r.name, ': ') : null, ruleText(r));
    })), 100, `rules of ${p.name}`));
  }
  return col;
}

function revisionsList(main, fwId, query) {
  const box = h('div', { class: 'revisions-list' });
  const picked = { a: query.get('a') || '', b: query.get('b') || '' };
  const load = async (token) => {
    box.replaceChildren(loading('Loading revisions…'));
    try {
      const res = await api('GET', `${fwPath(fwId)}/revisions`, { query: { page_size: 20, ...(token ? { page_token: token } : {}) } });
      const items = res.body.items || [];
      if (!items.length) {
        box.replaceChildren(h('p', {}, 'This firewall has no revisions kept.'));
        return;
      }
      const radio = (side, rev) => h('input', {
        type: 'radio', name: `side-${side}`, value: String(rev), checked: picked[side] === String(rev),
        'aria-label': `${side === 'a' ? 'Older side' : 'Newer side'}: revision ${rev}`, 'data-test': `pick-${side}-${rev}`,
        onchange: () => { picked[side] = String(rev); },
      });
      const table = listTable({ class: 'list revisions' },
        h('caption', {}, 'Revisions, newest first'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Older'), h('th', { scope: 'col' }, 'Newer'), h('th', { scope: 'col' }, 'Revision'),
          h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col' }, 'Diff'))),
        h('tbody', {}, items.map((r) => h('tr', { 'data-test': 'revision-row' },
          h('td', {}, radio('a', r.revision)), h('td', {}, radio('b', r.revision)),
          h('td', {}, String(r.revision)), h('td', {}, time(r.created_at)), h('td', {}, r.actor), h('td', {}, r.summary),
          h('td', {}, r.revision > 1
            ? h('a', { href: `#/firewalls/${enc(fwId)}/revisions?a=${r.revision - 1}&b=${r.revision}`, 'data-test': 'diff-previous',
              'aria-label': `Compare revision ${r.revision} with ${r.revision - 1}` }, `diff with ${r.revision - 1}`)
            : '')))));
      box.replaceChildren(table, pager(res.body, load));
    } catch (err) {
      box.replaceChildren(errorBox(err));
    }
  };
  const form = h('form', { class: 'compare-form', onsubmit: (e) => {
    e.preventDefault();
    if (!picked.a || !picked.b) {
      msg.textContent = 'Pick an older and a newer revision to compare.';
      return;
    }
    navigate(`/firewalls/${enc(fwId)}/revisions?a=${enc(picked.a)}&b=${enc(picked.b)}`);
  } });
  const msg = h('p', { role: 'status', class: 'hint' });
  form.append(box, h('button', { type: 'submit', 'data-test': 'compare' }, 'Compare the two revisions'), msg);
  load('');
  return form;
}

async function compareView(fwId, a, b) {
  const box = h('section', { class: 'compare', 'data-test': 'compare-view', 'aria-labelledby': 'compare-h' });
  let older = Number(a);
  let newer = Number(b);
  if (!Number.isInteger(older) || !Number.isInteger(newer) || older < 1 || newer < 1) {
    box.append(errorBox(new Error('a and b must be revision numbers.')));
    return box;
  }
  if (older > newer) [older, newer] = [newer, older];
  box.append(h('h2', { id: 'compare-h' }, `Revision ${older} → revision ${newer}`));
  if (older === newer) {
    box.append(h('p', {}, 'Both sides are the same revision: nothing differs.'));
    return box;
  }
  const wait = loading('Comparing…');
  box.append(wait);
  try {
    const base = `${fwPath(fwId)}/revisions`;
    const [oldTree, newTree, diff] = await Promise.all([
      api('GET', `${base}/${older}`), api('GET', `${base}/${newer}`),
      api('GET', `${base}/${newer}/diff`, { query: { against: older } }),
    ]);
    const oi = treeIndex(oldTree.body);
    const ni = treeIndex(newTree.body);
    const d = diff.body;
    const oldMarks = new Map();
    const newMarks = new Map();
    for (const r of d.structural.rules || []) {
      if (r.change === 'removed') oldMarks.set(r.id, 'removed');
      else if (r.change === 'added') newMarks.set(r.id, 'added');
      else {
        oldMarks.set(r.id, r.change);
        newMarks.set(r.id, r.change);
      }
    }
    wait.remove();
    box.append(
      structuralDiffView(fwId, d.structural, oi, ni),
      semanticDiffView(fwId, d.semantic, oi, ni),
      h('div', { class: 'side-by-side' },
        treeColumn(fwId, `Revision ${older}`, oldTree.body, oldMarks, 'side-old'),
        treeColumn(fwId, `Revision ${newer}`, newTree.body, newMarks, 'side-new')));
  } catch (err) {
    wait.remove();
    box.append(errorBox(err));
  }
  return box;
}

route('/firewalls/:id/revisions', async (outer, params, query) => {
  const main = page(outer);
  const fwId = params.id;
  main.append(h('p', { class: 'crumbs' }, h('a', { href: `#/firewalls/${enc(fwId)}` }, 'Back to the firewall')),
    h('h1', {}, 'Revisions'));
  const a = query.get('a');
  const b = query.get('b');
  const list = revisionsList(main, fwId, query);
  if (a && b) {
    const cmp = await compareView(fwId, a, b);
    main.append(cmp, h('h2', {}, 'Pick other revisions'), list);
  } else {
    main.append(h('p', {}, 'Pick an older and a newer revision to see them side by side, with what was edited and which flows are decided differently.'), list);
  }
});
