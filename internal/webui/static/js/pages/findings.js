// findings.js: placeholder until the review pages land (helper ui-review
// replaces this file wholesale).
import { h, route } from '../core.js';

const placeholder = (title) => (main) => {
  main.append(h('h1', null, title), h('p', null, 'This page is not built yet.'));
};

route('/firewalls/:id/findings', placeholder('Findings'));
