// evaluate.js: what happens to a flow, with the explain path.
import { h, route } from '../core.js';

route('/firewalls/:id/evaluate', (main) => {
  main.append(h('h1', null, 'What happens to this flow?'));
});
