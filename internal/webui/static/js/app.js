// app.js: loads every page module (each registers its routes) and starts
// the router.
import { clearToken, navigate, start } from './core.js';
import './pages/signin.js';
import './pages/firewalls.js';
import './pages/firewall.js';
import './pages/evaluate.js';
import './pages/findings.js';
import './pages/revisions.js';
import './pages/changes.js';
import './pages/groups.js';

document.getElementById('signout').addEventListener('click', () => {
  clearToken();
  navigate('/signin');
});
// The skip link targets <main> without changing the route.
document.getElementById('skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  document.getElementById('main').focus();
});
start();
