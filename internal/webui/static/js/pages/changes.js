// changes.js: placeholder until the review pages land (helper ui-review
// replaces this file wholesale).
import { h, route } from '../core.js';

const placeholder = (title) => (main) => {
  main.append(h('h1', null, title), h('p', null, 'This page is not built yet.'));
};

route('/firewalls/:id/change-requests', placeholder('Change requests'));
route('/firewalls/:id/change-requests/new', placeholder('Propose a change'));
route('/firewalls/:id/change-requests/:cr', placeholder('Change request'));
