// Findings: what is wrong with a firewall's rules. Unreachable rules come
// with the rules that block them, redundant rules with the ones that would
// take their flows, conflicts with the later rule; each rule links to its
// place, each example flow to the evaluator.
import { api, h, route, navigate, errorBox, loading } from '../core.js';
import {
  page, add, fwPath, treeIndex, ruleLink, policyName, decisionView, flowView, localPager,
} from './revisions.js';

const enc = encodeURIComponent;

// The sections of the page, in the order a reviewer works through them.
const sections = [
  { kinds: ['unreachable'], title: 'Unreachable rules', blurb: 'Rules that never decide a flow: earlier rules or defaults take every flow they match.' },
  { kinds: ['unreachable_policy'], title: 'Unreachable policies', blurb: 'Policies that never see a flow.' },
  { kinds: ['redundant'], title: 'Redundant rules', blurb: 'Rules whose flows later rules would decide the same way without them.' },
  { kinds: ['conflict'], title: 'Conflicts', blurb: 'Rules that match flows in common with a later rule of a different action.' },
  { kinds: ['expired', 'expiring', 'disabled'], title: 'Expired, expiring and disabled rules', blurb: '' },
];

const kindNames = {
  '': 'All kinds', unreachable: 'Unreachable rules', redundant: 'Redundant rules', conflict: 'Conflicts',
  unreachable_policy: 'Unreachable policies', expiring: 'Expiring rules', expired: 'Expired rules', disabled: 'Disabled rules',
};

/** takerView is one rule or default that takes a finding's flows. */
function takerView(fwId, idx, t) {
  const act = h('span', { class: `action action-${t.action}` }, t.action);
  if (t.decided_by === 'rule') return h('li', { 'data-test': 'blocker' }, ruleLink(fwId, idx, t.rule_id, 'blocker-link'), ' — ', act);
  if (t.decided_by === 'policy_default') return h('li', { 'data-test': 'blocker' }, `the default of ${policyName(idx, t.policy_id)} — `, act);
  return h('li', { 'data-test': 'blocker' }, 'the firewall default — ', act);
}

/** matchingFlowButton asks the search for one flow a rule matches, to try in the evaluator. */
function matchingFlowButton(fwId, idx, rule) {
  const out = h('span', { class: 'found-flow', role: 'status' });
  if (!rule || (rule.source_groups || []).length || (rule.destination_groups || []).length || (rule.service_groups || []).length) return null;
  const btn = h('button', { type: 'button', class: 'link-button', 'data-test': 'find-flow', onclick: async () => {
    btn.disabled = true;
    out.replaceChildren(loading('Searching…'));
    const space = { sources: rule.sources || [], destinations: rule.destinations || [] };
    if (rule.protocol && rule.protocol !== 'any') space.protocols = [rule.protocol];
    if ((rule.source_ports || []).length) space.source_ports = rule.source_ports;
    if ((rule.destination_ports || []).length) space.destination_ports = rule.destination_ports;
    try {
      const res = await api('POST', `${fwPath(fwId)}/search`, { body: { space } });
      btn.hidden = true;
      out.replaceChildren(...(res.body.exists
        ? ['A flow it matches: ', flowView(fwId, res.body.flow), ' is decided ', decisionView(fwId, idx, res.body.decision), '.']
        : ['The rule matches no flow.']));
    } catch (err) {
      out.replaceChildren(errorBox(err));
      btn.disabled = false;
    }
  } }, 'Find a flow it matches');
  return h('span', {}, btn, ' ', out);
}

function findingView(fwId, idx, f) {
  const at = f.rule_id ? idx.rules.get(f.rule_id) : null;
  const item = h('li', { class: `finding finding-${f.severity}`, 'data-test': `finding-${f.kind}`, 'data-rule-id': f.rule_id || '' });
  const head = h('p', { class: 'finding-head' },
    h('span', { class: `badge sev-${f.severity}` }, f.severity), ' ',
    f.rule_id ? ruleLink(fwId, idx, f.rule_id, 'finding-rule') : h('strong', {}, policyName(idx, f.policy_id)));
  item.append(head, h('p', { class: 'finding-message' }, f.message));
  if (f.kind === 'conflict' && f.conflicts_with) {
    item.append(h('p', {}, 'Conflicts with the later ', ruleLink(fwId, idx, f.conflicts_with, 'conflict-rule')));
  }
  const cover = f.covered_by || [];
  if (cover.length) {
    const label = f.kind === 'redundant' ? 'Would be decided without it by:' : 'Blocked by:';
    item.append(h('div', { class: 'blockers' }, h('p', {}, label),
      h('ul', {}, cover.map((t) => takerView(fwId, idx, t))),
      f.covered_by_total > cover.length ? h('p', { class: 'muted' }, `and ${f.covered_by_total - cover.length} more`) : null));
  }
  if (f.different_action) {
    item.append(h('p', { class: 'warn' }, 'Some of these act differently from this rule: its flows do not get the action it says.'));
  }
  if (f.example) {
    item.append(h('p', { class: 'example' }, 'Example: ', flowView(fwId, f.example.flow), ' is decided ', decisionView(fwId, idx, f.example.decision), '.'));
  } else if (f.kind === 'unreachable' && at) {
    const finder = matchingFlowButton(fwId, idx, at.rule);
    if (finder) item.append(h('p', { class: 'example' }, finder));
  }
  if (f.expires_at) item.append(h('p', { class: 'muted' }, 'Expires ', h('time', { datetime: f.expires_at }, new Date(f.expires_at).toLocaleString())));
  return item;
}

function summary(rep) {
  const parts = Object.entries(rep.counts || {}).map(([k, n]) => `${kindNames[k] || k}: ${n}`);
  return h('p', { 'data-test': 'findings-summary' }, `At revision ${rep.revision}. `,
    parts.length ? parts.join('; ') : 'No findings', '.',
    rep.conflicts_total > (rep.counts?.conflict || 0) ? ` ${rep.conflicts_total} conflicts in all, the first ${rep.counts.conflict} listed.` : '');
}

route('/firewalls/:id/findings', async (outer, params, query) => {
  const main = page(outer);
  const fwId = params.id;
  const kinds = query.get('kinds') || '';
  const back = h('a', { href: `#/firewalls/${enc(fwId)}` }, 'Back to the firewall');
  main.append(h('p', { class: 'crumbs' }, back), h('h1', {}, 'Findings'));
  const select = h('select', { id: 'findings-kind', name: 'kinds', 'data-test': 'findings-kind' },
    Object.entries(kindNames).map(([k, name]) => h('option', { value: k, selected: k === kinds }, name)));
  main.append(h('form', { class: 'filter', onsubmit: (e) => {
    e.preventDefault();
    navigate(`/firewalls/${enc(fwId)}/findings${select.value ? `?kinds=${enc(select.value)}` : ''}`);
  } }, h('label', { for: 'findings-kind' }, 'Kind of finding '), select, ' ', h('button', { type: 'submit' }, 'Show')));
  const wait = loading('Analysing the firewall…');
  main.append(wait);
  try {
    const [fw, tree, rep] = await Promise.all([
      api('GET', fwPath(fwId)),
      api('GET', `${fwPath(fwId)}/tree`),
      api('GET', `${fwPath(fwId)}/analysis`, { query: kinds ? { kinds } : {} }),
    ]);
    back.textContent = `Back to ${fw.body.name}`;
    const idx = treeIndex(tree.body);
    const r = rep.body;
    wait.remove();
    main.append(summary(r));
    if (tree.body.revision && r.revision !== tree.body.revision) {
      main.append(h('p', { class: 'warn', role: 'status' }, 'The firewall changed while the page loaded; reload to see the latest findings.'));
    }
    const findings = r.findings || [];
    for (const s of sections) {
      const list = findings.filter((f) => s.kinds.includes(f.kind));
      if (!list.length) continue;
      const hid = `findings-${s.kinds[0]}`;
      add(main, h('section', { class: 'findings', 'aria-labelledby': hid, 'data-test': `section-${s.kinds[0]}` },
        h('h2', { id: hid }, `${s.title} (${list.length})`),
        s.blurb ? h('p', { class: 'muted' }, s.blurb) : null,
        localPager(list, (page) => h('ul', { class: 'finding-list' }, page.map((f) => findingView(fwId, idx, f))), 25, s.title.toLowerCase())));
    }
    if (!findings.length) main.append(h('p', { 'data-test': 'no-findings' }, 'Nothing to report: every rule decides some flow, and no rule is redundant or in conflict.'));
  } catch (err) {
    wait.remove();
    main.append(errorBox(err));
  }
});
