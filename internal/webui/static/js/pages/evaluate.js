// evaluate.js: "what happens to this flow?": the decision, and the explain
// path drawn policy by policy. The form's fields are those of the evaluate
// API's flow, and the hash query prefills them, so that findings and
// links elsewhere can open a flow here.
import { ApiError, api, describeRule, errorBox, h, loading, navigate, route } from '../core.js';

const enc = encodeURIComponent;
const FIELDS = ['protocol', 'source_ip', 'source_port', 'destination_ip', 'destination_port'];

const OUTCOMES = {
  skipped_disabled: 'skipped: the policy is disabled',
  rule_matched: 'a rule matched',
  policy_default: 'no rule matched: the policy’s default decided',
  fell_through: 'no rule matched: on to the next policy',
};

route('/firewalls/:id/evaluate', async (main, params, query) => {
  const fwPath = '/firewalls/' + enc(params.id);
  const fw = (await api('GET', fwPath)).body;
  const flow = {};
  for (const k of FIELDS) flow[k] = query.get(k) || '';
  if (!flow.protocol) flow.protocol = 'tcp';
  const result = h('section', { 'aria-label': 'Decision', 'aria-live': 'polite', 'data-test': 'eval-result' });
  const form = flowForm(flow, (values) => {
    const q = new URLSearchParams();
    for (const k of FIELDS) if (values[k]) q.set(k, values[k]);
    navigate('/firewalls/' + enc(params.id) + '/evaluate?' + q.toString());
  });
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/firewalls' }, 'Firewalls'), ' / ', h('a', { href: '#/firewalls/' + enc(params.id) }, fw.name), ' /'),
    h('h1', null, 'What happens to this flow?'),
    h('p', { class: 'hint' }, 'Give a flow; FireFlow decides it on ' + fw.name + ' as it is now and shows each policy it passed through.'),
    form, result);
  if (query.get('source_ip') && query.get('destination_ip')) {
    await evaluate(fwPath, params.id, fw, flow, result);
  }
});

function flowForm(flow, submit) {
  const field = (k, text, attrs) => h('div', null, h('label', { for: 'flow-' + k }, text),
    h('input', { id: 'flow-' + k, name: k, value: flow[k], 'data-test': 'flow-' + k, ...attrs }));
  const form = h('form', { class: 'card', 'data-test': 'eval-form', onsubmit: (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    submit(values);
  } },
  h('div', { class: 'grid' },
    h('div', null, h('label', { for: 'flow-protocol' }, 'Protocol'),
      h('select', { id: 'flow-protocol', name: 'protocol', 'data-test': 'flow-protocol' },
        ['tcp', 'udp', 'icmp', 'icmpv6'].map((p) => h('option', { value: p, selected: flow.protocol === p }, p)))),
    field('source_ip', 'Source address', { required: true, placeholder: '10.1.2.3', autocomplete: 'off' }),
    field('source_port', 'Source port (tcp, udp)', { type: 'number', min: '1', max: '65535', placeholder: '51514' }),
    field('destination_ip', 'Destination address', { required: true, placeholder: '192.0.2.10', autocomplete: 'off' }),
    field('destination_port', 'Destination port (tcp, udp)', { type: 'number', min: '1', max: '65535', placeholder: '443' })),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-test': 'eval-submit' }, 'Decide')));
  return form;
}

async function evaluate(fwPath, fwID, fw, flow, box) {
  box.replaceChildren(loading('Deciding…'));
  const body = { protocol: flow.protocol, source_ip: flow.source_ip.trim(), destination_ip: flow.destination_ip.trim() };
  if (flow.protocol === 'tcp' || flow.protocol === 'udp') {
    if (flow.source_port) body.source_port = Number(flow.source_port);
    if (flow.destination_port) body.destination_port = Number(flow.destination_port);
  }
  let res;
  try {
    res = (await api('POST', fwPath + '/evaluate', { body: { flow: body, explain: true } })).body;
  } catch (err) {
    box.replaceChildren(errorBox(err));
    return;
  }
  const d = res.decision;
  // The path names policies and rules by id; read the policies once and
  // the rules that matched, to show them as people know them.
  const policies = new Map();
  try {
    const page = (await api('GET', fwPath + '/filtering-policies', { query: { page_size: 1000 } })).body;
    for (const p of page.items) policies.set(p.id, p);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
  const rules = new Map();
  await Promise.all((d.path || []).filter((s) => s.rule_id).map(async (s) => {
    try {
      rules.set(s.rule_id, (await api('GET', fwPath + '/filtering-policies/' + enc(s.policy_id) + '/rules/' + enc(s.rule_id))).body);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
  }));
  const ruleLink = (id) => {
    const r = rules.get(id);
    const text = r ? 'rule ' + r.position + (r.name ? ' “' + r.name + '”' : '') : 'rule ' + id;
    return h('a', { href: '#/firewalls/' + enc(fwID) + '?rule=' + enc(id), 'data-test': 'path-rule' }, text);
  };
  const by = { rule: 'a rule', policy_default: 'a policy’s default action', firewall_default: 'the firewall’s default action' }[d.decided_by] || d.decided_by;
  box.replaceChildren(
    h('h2', null, 'Decision'),
    h('p', { class: 'decision', 'data-test': 'decision' }, h('span', { class: 'act act-' + d.action }, d.action),
      ' — decided by ', by, d.rule_id ? [': ', ruleLink(d.rule_id)] : null,
      d.policy_id && policies.has(d.policy_id) ? [' in policy ', h('strong', null, policies.get(d.policy_id).name)] : null),
    h('p', { class: 'hint' }, 'On revision ' + res.revision + ' of ' + fw.name + '.'),
    h('h2', null, 'Path'),
    h('ol', { class: 'path', 'data-test': 'eval-path' }, (d.path || []).map((s, i) => step(s, i, policies, rules, ruleLink)),
      d.decided_by === 'firewall_default' ? h('li', { class: 'decided', 'data-test': 'path-step' },
        h('strong', null, 'Firewall default'), ': no policy decided, so the firewall’s default action applies: ',
        h('span', { class: 'act act-' + fw.default_action }, fw.default_action)) : null));
}

function step(s, i, policies, rules, ruleLink) {
  const p = policies.get(s.policy_id);
  const decided = s.outcome === 'rule_matched' || s.outcome === 'policy_default';
  const r = s.rule_id ? rules.get(s.rule_id) : null;
  return h('li', { class: decided ? 'decided' : '', 'data-test': 'path-step' },
    h('div', null, h('strong', null, (i + 1) + '. Policy ' + (s.policy_name || s.policy_id)),
      p ? ' (priority ' + p.priority + ')' : '', ': ', OUTCOMES[s.outcome] || s.outcome),
    s.outcome === 'rule_matched' ? h('div', null, ruleLink(s.rule_id), r ? [': ', h('code', null, describeRule(r))] : null) : null,
    s.outcome === 'policy_default' && p ? h('div', null, 'Default action: ', h('span', { class: 'act act-' + p.default_action }, p.default_action)) : null,
    s.source_group ? h('div', { 'data-test': 'path-group' }, 'Source in address group ', h('strong', null, s.source_group)) : null,
    s.destination_group ? h('div', { 'data-test': 'path-group' }, 'Destination in address group ', h('strong', null, s.destination_group)) : null,
    s.service_group ? h('div', { 'data-test': 'path-group' }, 'Service in service group ', h('strong', null, s.service_group)) : null,
    (s.expired_rules || []).length ? h('div', { class: 'hint' }, 'Expired rules that would have matched: ', s.expired_rules.length) : null);
}
