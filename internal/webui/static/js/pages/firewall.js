// firewall.js: one firewall, its policies and their rules.
import { api, h, route } from '../core.js';

route('/firewalls/:id', async (main, params) => {
  const fw = (await api('GET', '/firewalls/' + encodeURIComponent(params.id))).body;
  main.append(h('h1', null, fw.name));
});
