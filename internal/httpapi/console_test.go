package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// consoleStep bounds each browser step. Steps are short on an idle
// machine; the bound only guards against a hang, and a loaded 2-core
// machine has taken over 15 s for a first page load.
const consoleStep = 90 * time.Second

// consoleSession is a running API server with the console, a headless
// Chromium on it, and a token per role. Each role's token has its own
// subject, so that four-eyes checks see different people.
type consoleSession struct {
	srv    *testServer
	base   string            // the server's URL, http://127.0.0.1:port
	tokens map[string]string // by role: admin, editor, approver, viewer
	ctx    context.Context   // the browser tab
	log    *browserOutput
	shots  string // where screenshots go
}

// newConsoleSession starts a server and a browser for one test; both stop
// with the test. Without Chromium the test skips (fails under CI=true).
func newConsoleSession(t *testing.T) *consoleSession {
	t.Helper()
	bin := findChromium(t)
	srv := newTestServer(t)
	s := &consoleSession{srv: srv, base: srv.url, tokens: map[string]string{}, log: &browserOutput{}, shots: artifactDir(t)}
	for _, role := range []auth.Role{auth.Admin, auth.Editor, auth.Approver, auth.Viewer} {
		s.tokens[string(role)] = mintToken(t, "console-"+string(role), role)
	}

	s.ctx = startChromium(t, bin, s.log)
	t.Cleanup(func() {
		if t.Failed() {
			s.keepFailure(t)
		}
	})
	return s
}

// startChromium starts a headless Chromium at 1280x1024 that stops with
// the test or benchmark, and returns its tab's context.
func startChromium(tb testing.TB, bin string, log *browserOutput) context.Context {
	tb.Helper()
	// As in TestSwaggerUIListsFirewallsInABrowser: keep Chromium off the
	// network, which this machine may not have.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 1024),
		chromedp.CombinedOutput(log),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Registered first, so that it runs after the test's other cleanups,
	// a failure record taken with the browser among them.
	tb.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	started := time.Now()
	if err := chromedp.Do(browserCtx); err != nil {
		tb.Fatalf("start %s: %v\n%s", bin, err, log.Bytes())
	}
	tb.Logf("started %s in %v", bin, time.Since(started).Round(time.Millisecond))
	return browserCtx
}

// artifactDir is $FIREFLOW_TEST_ARTIFACTS, else artifacts/console at the
// repository root (gitignored).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FIREFLOW_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "artifacts", "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact directory: %v", err)
	}
	return dir
}

// repoRoot is the directory of go.mod above the test's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// keepFailure saves what the browser shows, its HTML and its output.
func (s *consoleSession) keepFailure(t *testing.T) {
	name := strings.ReplaceAll(t.Name(), "/", "_")
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(s.shots, "FAILED-"+name+".png"), png, 0o644)
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
		_ = os.WriteFile(filepath.Join(s.shots, "FAILED-"+name+".html"), []byte(html), 0o644)
	}
	_ = os.WriteFile(filepath.Join(s.shots, "FAILED-"+name+".chromium.log"), s.log.Bytes(), 0o644)
	t.Logf("failure screenshot, HTML and browser output in %s", s.shots)
}

// do runs browser actions with a deadline of their own.
func (s *consoleSession) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, consoleStep)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func consoleEval[T any](t *testing.T, s *consoleSession, what, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, consoleStep)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// js quotes v as a JavaScript literal.
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signIn opens the sign-in page, pastes the token and waits for the
// firewalls list.
func (s *consoleSession) signIn(t *testing.T, token string) {
	t.Helper()
	s.open(t, "/signin")
	const field = `textarea[data-test="token"]`
	s.do(t, "sign in",
		uiVisible(field),
		uiNamed("focus", field, chromedp.Focus(chromedp.CSS(field))),
		uiPaste(token),
		uiClick(`[data-test="signin"]`),
	)
	s.waitText(t, "main h1", "Firewalls")
}

// open shows a hash path of the console, such as /firewalls/ID. The first
// call loads the page; later ones change the hash, as a link would.
func (s *consoleSession) open(t *testing.T, hashPath string) {
	t.Helper()
	u := s.base + "/ui/#" + hashPath
	loc := consoleEval[string](t, s, "read the location", `location.origin + location.pathname`)
	if loc != s.base+"/ui/" {
		s.do(t, "open "+u, chromedp.Navigate(u), uiVisible("#main"))
		return
	}
	consoleEval[bool](t, s, "go to "+hashPath, `(location.hash = `+js("#"+hashPath)+`, true)`)
}

// waitText waits until an element matching selector contains text.
func (s *consoleSession) waitText(t *testing.T, selector, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, consoleStep)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](
		`(sel, text) => [...document.querySelectorAll(sel)].some((el) => el.textContent.includes(text))`,
		chromedp.WithPollingArgs(selector, text), chromedp.WithPollingTimeout(consoleStep), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		seen := consoleEval[[]string](t, s, "read "+selector,
			`[...document.querySelectorAll(`+js(selector)+`)].map((el) => el.textContent.trim().slice(0, 300))`)
		main := consoleEval[string](t, s, "read main", `document.getElementById('main') ? document.getElementById('main').innerText.slice(0, 2000) : ''`)
		t.Fatalf("wait for %q in %s: %v\nmatching elements: %q\nthe page says:\n%s", text, selector, err, seen, main)
	}
}

// waitCount waits until exactly n elements match selector.
func (s *consoleSession) waitCount(t *testing.T, selector string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, consoleStep)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`(sel, n) => document.querySelectorAll(sel).length === n`,
		chromedp.WithPollingArgs(selector, n), chromedp.WithPollingTimeout(consoleStep), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		got := consoleEval[int](t, s, "count "+selector, `document.querySelectorAll(`+js(selector)+`).length`)
		t.Fatalf("wait for %d of %s: %v (there are %d)", n, selector, err, got)
	}
}

// click clicks the first element matching selector, once it is visible.
func (s *consoleSession) click(t *testing.T, selector string) {
	t.Helper()
	s.do(t, "click "+selector, uiClick(selector))
}

// fill replaces the value of a field: a text field gets the text as a
// paste (the page sees input events), a select gets the option.
func (s *consoleSession) fill(t *testing.T, selector, text string) {
	t.Helper()
	s.do(t, "fill "+selector, uiVisible(selector))
	kind := consoleEval[string](t, s, "prepare "+selector, `((sel, text) => {
		const el = document.querySelector(sel);
		if (el.tagName === 'SELECT' || el.type === 'checkbox' || el.type === 'date' || el.type === 'datetime-local' || text === '') {
			if (el.type === 'checkbox') el.checked = text === 'true'; else el.value = text;
			el.dispatchEvent(new Event('input', {bubbles: true}));
			el.dispatchEvent(new Event('change', {bubbles: true}));
			return 'set';
		}
		el.focus();
		el.select();
		return 'paste';
	})(`+js(selector)+`, `+js(text)+`)`)
	if kind == "paste" {
		s.do(t, "type into "+selector, uiPaste(text))
	}
}

// screenshot saves the page as name.png in the artifact directory.
func (s *consoleSession) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, consoleStep)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(s.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot %s", p)
}

// viewport sets the page's width and height in CSS pixels.
func (s *consoleSession) viewport(t *testing.T, width, height int64) {
	t.Helper()
	s.do(t, fmt.Sprintf("viewport %dx%d", width, height), chromedp.EmulateViewport(width, height))
}

// axeViolation is one rule axe-core found broken, with the elements.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axe runs axe-core, pinned in tools/api/package.json, on the page shown
// and fails on any serious or critical violation.
func (s *consoleSession) axe(t *testing.T, pageName string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "tools", "api", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		msg := fmt.Sprintf("axe-core is not installed (%v): run make ci-deps (npm ci in tools/api)", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Logf("SKIPPING the axe check of %s: %s", pageName, msg)
		return
	}
	// DevTools evaluation is not subject to the page's CSP: the console's
	// own policy stays in force for everything else.
	if !consoleEval[bool](t, s, "has axe", `typeof window.axe === 'object'`) {
		consoleEval[bool](t, s, "inject axe-core", string(src)+"\n;true")
	}
	found := consoleEval[[]axeViolation](t, s, "run axe on "+pageName, `axe.run(document, {resultTypes: ['violations']}).then((r) =>
		r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
			id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\s+/g, ' ')),
		})))`, chromedp.EvalAwaitPromise)
	if len(found) == 0 {
		t.Logf("axe on %s: 0 serious or critical violations", pageName)
		return
	}
	var b strings.Builder
	for _, v := range found {
		fmt.Fprintf(&b, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    %s", n)
		}
	}
	t.Errorf("axe on %s: %d serious or critical violations:%s", pageName, len(found), b.String())
}

// firewallNamed reads a firewall through the API by its name.
func (s *consoleSession) firewallNamed(t *testing.T, name string) map[string]any {
	t.Helper()
	list := s.apiJSON(t, s.tokens["viewer"], "GET", "/api/v1/firewalls?filter="+url.QueryEscape(fmt.Sprintf("name = %q", name)), nil)
	items, _ := list["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("firewall %q: the API lists %v", name, list)
	}
	return items[0].(map[string]any)
}

// ruleNames lists the names of a policy's rules in position order, through
// the API.
func (s *consoleSession) ruleNames(t *testing.T, rulesPath string) []string {
	t.Helper()
	var names []string
	for _, it := range s.apiJSON(t, s.tokens["viewer"], "GET", rulesPath+"?page_size=1000", nil)["items"].([]any) {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	return names
}

// addRule fills the first policy's new-rule form, keyed by the form's
// field names, and waits for the rule to be listed.
func (s *consoleSession) addRule(t *testing.T, fields map[string]string) {
	t.Helper()
	s.click(t, `[data-test="policy"] [data-test="rule-new"]`)
	const form = `[data-test="policy"] form[data-test="rule-form"]`
	for _, k := range []string{"name", "action", "protocol", "sources", "destinations", "source_groups", "destination_groups",
		"destination_ports", "source_ports", "service_groups", "description"} {
		if v, ok := fields[k]; ok {
			sel := form + ` [name="` + k + `"]`
			s.fill(t, sel, v)
		}
	}
	s.click(t, form+` [data-test="rule-submit"]`)
	s.waitText(t, `[data-test="rules-table"]`, fields["name"])
}

// apiJSON calls the API with a token, for setting up or checking what
// the browser did, and returns the decoded body (nil for none). A non-2xx
// answer fails the test.
func (s *consoleSession) apiJSON(t *testing.T, token, method, path string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, rd)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.srv.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: status %d: %s", method, path, res.StatusCode, raw)
	}
	if len(raw) == 0 {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: decode: %v: %s", method, path, err, raw)
	}
	return out
}

// TestConsoleJourney walks the console as a network team would, one
// screenshot per step: sign in; build a firewall in the browser; move a
// rule; evaluate a flow and read its path. The review steps follow.
func TestConsoleJourney(t *testing.T) {
	s := newConsoleSession(t)

	// Step 1: sign in with an admin token pasted into the sign-in page.
	s.open(t, "/signin")
	s.waitText(t, "main h1", "Sign in")
	s.axe(t, "sign-in")
	s.signIn(t, s.tokens["admin"])
	s.waitText(t, "#who", "console-admin")
	s.screenshot(t, "journey-1-signin")
	s.axe(t, "firewalls (empty)")
	s.viewport(t, 375, 800)
	s.screenshot(t, "journey-1-signin-375px")
	s.viewport(t, 1280, 1024)

	// Step 2: create a firewall, a policy and three rules in the browser.
	// The address group they name is made through the API: groups are
	// ui-review's pages.
	s.apiJSON(t, s.tokens["editor"], "POST", "/api/v1/address-groups",
		map[string]any{"name": "web-servers", "addresses": []string{"192.0.2.0/24"}})
	s.click(t, `[data-test="fw-new"]`)
	s.fill(t, `[data-test="fw-name"]`, "edge-console")
	s.click(t, `[data-test="fw-create-submit"]`)
	s.waitText(t, "main h1", "edge-console")
	fw := s.firewallNamed(t, "edge-console")
	fwID := fw["id"].(string)

	s.click(t, `[data-test="policy-new"]`)
	s.fill(t, `[data-test="policy-name"]`, "baseline")
	s.fill(t, `[data-test="policy-priority"]`, "100")
	s.fill(t, `[data-test="policy-default"]`, "deny")
	s.click(t, `[data-test="policy-submit"]`)
	s.waitText(t, `[data-test="policy"] h2`, "baseline")
	policyID := s.apiJSON(t, s.tokens["viewer"], "GET", "/api/v1/firewalls/"+fwID+"/filtering-policies", nil)["items"].([]any)[0].(map[string]any)["id"].(string)

	for _, r := range []map[string]string{
		{"name": "deny-telnet", "action": "deny", "protocol": "tcp", "destination_ports": "23", "description": "telnet is never allowed"},
		{"name": "allow-https", "action": "allow", "protocol": "tcp", "sources": "10.0.0.0/8", "destinations": "192.0.2.10", "destination_ports": "443"},
		{"name": "web-from-office", "action": "allow", "protocol": "tcp", "sources": "10.0.0.0/8", "destination_groups": "web-servers", "destination_ports": "80, 443"},
	} {
		s.addRule(t, r)
	}
	s.waitText(t, `tr[data-position="3"]`, "web-from-office")
	s.waitText(t, `tr[data-position="3"]`, "@web-servers")
	s.screenshot(t, "journey-2-firewall-policy-rules")
	s.axe(t, "firewall page")
	s.viewport(t, 375, 800)
	s.screenshot(t, "journey-2-firewall-375px")
	s.viewport(t, 1280, 1024)
	rulesPath := "/api/v1/firewalls/" + fwID + "/filtering-policies/" + policyID + "/rules"
	if got := s.ruleNames(t, rulesPath); strings.Join(got, ",") != "deny-telnet,allow-https,web-from-office" {
		t.Fatalf("rules after step 2: %v", got)
	}

	// Step 3: move web-from-office to the top with the move form.
	s.click(t, `tr[data-name="web-from-office"] [data-test="rule-move"]`)
	s.fill(t, `[data-test="move-position"]`, "1")
	s.click(t, `[data-test="move-submit"]`)
	s.waitText(t, `tr[data-position="1"]`, "web-from-office")
	s.screenshot(t, "journey-3-moved")
	if got := s.ruleNames(t, rulesPath); strings.Join(got, ",") != "web-from-office,deny-telnet,allow-https" {
		t.Fatalf("rules after the move: %v", got)
	}

	// Step 4: evaluate a flow from the firewall page's link and read its
	// path: the moved rule decides, through the group it names.
	s.click(t, `[data-test="link-evaluate"]`)
	s.waitText(t, "main h1", "What happens to this flow?")
	s.fill(t, `[data-test="flow-protocol"]`, "tcp")
	s.fill(t, `[data-test="flow-source_ip"]`, "10.1.2.3")
	s.fill(t, `[data-test="flow-source_port"]`, "51514")
	s.fill(t, `[data-test="flow-destination_ip"]`, "192.0.2.10")
	s.fill(t, `[data-test="flow-destination_port"]`, "443")
	s.click(t, `[data-test="eval-submit"]`)
	s.waitText(t, `[data-test="decision"]`, "allow")
	s.waitText(t, `[data-test="decision"]`, "web-from-office")
	s.waitText(t, `[data-test="path-step"]`, "1. Policy baseline")
	s.waitText(t, `[data-test="path-group"]`, "web-servers")
	s.screenshot(t, "journey-4-evaluate")
	s.axe(t, "evaluate")
	// A telnet flow falls to deny-telnet, now second.
	s.open(t, "/firewalls/"+fwID+"/evaluate?protocol=tcp&source_ip=10.1.2.3&source_port=40000&destination_ip=198.51.100.7&destination_port=23")
	s.waitText(t, `[data-test="decision"]`, "deny-telnet")
	s.waitText(t, `[data-test="path-rule"]`, "rule 2")

	// Steps 5–7: console_review_test.go
	consoleReviewSteps(t, s)
}

// hostileName is markup that would run script if the console let a name
// through as HTML.
const hostileName = `<img src=x onerror=alert(1)>`

// TestConsoleHostileNames shows that names are text, never markup: a rule
// and a firewall named hostileName render as those characters, with no img
// element made and no alert raised; and that the CSP blocks an inline
// script and an inline event handler injected into the page.
func TestConsoleHostileNames(t *testing.T) {
	s := newConsoleSession(t)
	fw := s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls", map[string]any{"name": hostileName, "description": hostileName})
	fwID := fw["id"].(string)
	p := s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls/"+fwID+"/filtering-policies", map[string]any{"name": hostileName, "priority": 1})
	s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls/"+fwID+"/filtering-policies/"+p["id"].(string)+"/rules",
		map[string]any{"name": hostileName, "description": hostileName, "action": "deny"})

	s.signIn(t, s.tokens["viewer"])
	// Any alert would mean the name ran as markup.
	consoleEval[bool](t, s, "watch alert", `(window.__alerts = 0, window.alert = () => { window.__alerts++; }, true)`)
	s.waitText(t, `[data-test="fw-link"]`, hostileName)
	s.open(t, "/firewalls/"+fwID)
	s.waitText(t, `[data-test="rule-name"]`, hostileName)
	s.waitText(t, `[data-test="fw-title"]`, hostileName)
	s.screenshot(t, "hostile-names")

	type dom struct {
		Imgs   int    `json:"imgs"`
		Alerts int    `json:"alerts"`
		Name   string `json:"name"`
	}
	got := consoleEval[dom](t, s, "inspect the DOM", `({imgs: document.querySelectorAll('img').length, alerts: window.__alerts,
		name: document.querySelector('[data-test="rule-name"]').textContent})`)
	if got.Imgs != 0 || got.Alerts != 0 || got.Name != hostileName {
		t.Fatalf("the hostile name was not rendered as text: %+v", got)
	}

	// An injected inline script and an inline handler must not run; the
	// browser reports each as a CSP violation.
	type cspResult struct {
		Ran        bool     `json:"ran"`
		Handler    bool     `json:"handler"`
		Violations []string `json:"violations"`
	}
	res := consoleEval[cspResult](t, s, "inject an inline script", `new Promise((resolve) => {
		window.__ran = false;
		window.__handler = false;
		const violations = [];
		document.addEventListener('securitypolicyviolation', (e) => violations.push(e.effectiveDirective));
		const sc = document.createElement('script');
		sc.textContent = 'window.__ran = true';
		document.body.appendChild(sc);
		const b = document.createElement('button');
		b.setAttribute('onclick', 'window.__handler = true');
		document.body.appendChild(b);
		b.click();
		setTimeout(() => resolve({ran: window.__ran, handler: window.__handler, violations}), 500);
	})`, chromedp.EvalAwaitPromise)
	if res.Ran || res.Handler {
		t.Fatalf("injected script ran: inline script %v, inline handler %v", res.Ran, res.Handler)
	}
	if !containsAll(res.Violations, "script-src-elem", "script-src-attr") {
		t.Fatalf("CSP violations reported: %q, want script-src-elem and script-src-attr", res.Violations)
	}
	t.Logf("CSP blocked the injected inline script and handler: violations %q", res.Violations)
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestConsoleConflictAndErrors edits a rule that someone else changed in
// the meantime: the 412 shows the changed field beside the user's edit.
// Then a delete with the fresh ETag, a viewer's 403 naming the role, and
// a bad token's 401 sending the user to sign-in.
func TestConsoleConflictAndErrors(t *testing.T) {
	s := newConsoleSession(t)
	fw := s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls", map[string]any{"name": "edge-conflict"})
	fwID := fw["id"].(string)
	p := s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls/"+fwID+"/filtering-policies", map[string]any{"name": "baseline", "priority": 10})
	rulesPath := "/api/v1/firewalls/" + fwID + "/filtering-policies/" + p["id"].(string) + "/rules"
	r := s.apiJSON(t, s.tokens["admin"], "POST", rulesPath, map[string]any{"name": "allow-dns", "action": "allow", "protocol": "udp", "destination_ports": []string{"53"}})
	ruleID := r["id"].(string)

	s.signIn(t, s.tokens["editor"])
	s.open(t, "/firewalls/"+fwID)
	s.waitText(t, `[data-test="rules-table"]`, "allow-dns")
	s.click(t, `tr[data-name="allow-dns"] [data-test="rule-edit"]`)
	s.fill(t, `tr.rule-extra [name="description"]`, "resolver traffic")

	// Meanwhile, someone else changes the action.
	s.apiJSON(t, s.tokens["admin"], "PATCH", rulesPath+"/"+ruleID, map[string]any{"action": "deny"})
	s.click(t, `tr.rule-extra [data-test="rule-submit"]`)
	s.waitText(t, `[data-test="conflict"]`, "changed since you read it")
	s.waitText(t, `[data-test="conflict-changed"]`, "Action")
	s.waitText(t, `[data-test="conflict-changed"]`, "deny")
	s.screenshot(t, "conflict-412")
	s.axe(t, "firewall page with a conflict")
	if got := s.apiJSON(t, s.tokens["viewer"], "GET", rulesPath+"/"+ruleID, nil); got["description"] != "" {
		t.Fatalf("the conflicting edit was saved: %v", got)
	}

	// Applying only the user's change to the current rule keeps the other
	// person's action; the delete then sends the newest ETag.
	s.click(t, `[data-test="conflict-overwrite"]`)
	s.waitText(t, `tr[data-name="allow-dns"]`, "resolver traffic")
	if got := s.apiJSON(t, s.tokens["viewer"], "GET", rulesPath+"/"+ruleID, nil); got["description"] != "resolver traffic" || got["action"] != "deny" {
		t.Fatalf("after applying the edit to the current rule: %v", got)
	}
	s.waitText(t, `tr[data-name="allow-dns"]`, "deny")
	s.click(t, `tr[data-name="allow-dns"] [data-test="rule-delete"]`)
	s.click(t, `[data-test="delete-confirm"]`)
	s.waitText(t, `[data-test="no-rules"]`, "No rules")

	// A viewer may look but not create: the 403 names the missing role.
	s.signIn(t, s.tokens["viewer"])
	s.click(t, `[data-test="fw-new"]`)
	s.fill(t, `[data-test="fw-name"]`, "not-allowed")
	s.click(t, `[data-test="fw-create-submit"]`)
	s.waitText(t, `[data-test="missing-role"]`, "Missing role: editor")
	s.screenshot(t, "forbidden-403")

	// A token the server rejects sends the user back to sign-in.
	consoleEval[bool](t, s, "spoil the token", `(sessionStorage.setItem('fireflow.token', 'not.a.token'), true)`)
	s.open(t, "/firewalls/"+fwID)
	s.waitText(t, "main h1", "Sign in")
	if tok := consoleEval[string](t, s, "read the token", `sessionStorage.getItem('fireflow.token') || ''`); tok != "" {
		t.Fatalf("the rejected token is still kept: %q", tok)
	}
}

// BenchmarkConsoleFirewallPage1000 times a usable firewall page whose one
// policy holds 1,000 rules, on loopback in headless Chromium: from the
// start of a full page load (HTML, CSS, modules, API calls) to the first
// page of rules shown with their buttons. It reports the median in
// ms/page and, once, the bytes Chromium transferred for the page.
func BenchmarkConsoleFirewallPage1000(b *testing.B) {
	var bin string
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		b.Skip("SKIPPING: no chromium on PATH")
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{HS256Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(service.New(db), Options{Version: "bench", Auth: verifier}))
	defer srv.Close()
	token := mintToken(b, "bench-admin", auth.Admin)
	post := func(path string, body any) map[string]any {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("POST %s: %d %s", path, res.StatusCode, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			b.Fatal(err)
		}
		return m
	}
	fwID := post("/api/v1/firewalls", map[string]any{"name": "edge-1000"})["id"].(string)
	pPath := "/api/v1/firewalls/" + fwID + "/filtering-policies"
	pID := post(pPath, map[string]any{"name": "big", "priority": 10})["id"].(string)
	for i := range 1000 {
		post(pPath+"/"+pID+"/rules", map[string]any{
			"name": fmt.Sprintf("rule-%04d", i+1), "action": []string{"allow", "deny", "reject"}[i%3], "protocol": "tcp",
			"sources":           []string{fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)},
			"destinations":      []string{fmt.Sprintf("192.0.2.%d", i%256)},
			"destination_ports": []string{strconv.Itoa(1 + i%1000), "8000-8080"},
			"description":       "generated for the console benchmark",
		})
	}

	log := &browserOutput{}
	tab := startChromium(b, bin, log)
	// The token goes in once; sessionStorage keeps it across the loads.
	page := srv.URL + "/ui/#/firewalls/" + fwID
	run := func(actions ...chromedp.Action[chromedp.Void]) {
		sctx, cancel := context.WithTimeout(tab, consoleStep)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			b.Fatalf("%v\n%s", err, log.Bytes())
		}
	}
	run(chromedp.Navigate(srv.URL + "/ui/#token=" + token))
	// Usable: the first rule's Edit button is there. The page measures
	// itself, from its navigation's start (performance.now() is 0 then),
	// so that the DevTools round trips do not count.
	load := func() time.Duration {
		run(chromedp.Navigate(srv.URL + "/healthz")) // same origin: the renderer stays
		sctx, cancel := context.WithTimeout(tab, consoleStep)
		defer cancel()
		if err := chromedp.Do(sctx, chromedp.Navigate(page)); err != nil {
			b.Fatalf("load %s: %v", page, err)
		}
		ms, err := chromedp.Run(sctx, chromedp.Poll[float64](
			`document.querySelector('tr[data-test="rule"] [data-test="rule-edit"]') ? performance.now() : 0`,
			chromedp.WithPollingTimeout(consoleStep), chromedp.WithPollingInterval(5*time.Millisecond)))
		if err != nil {
			b.Fatalf("wait for the rules: %v\n%s", err, log.Bytes())
		}
		return time.Duration(ms * float64(time.Millisecond))
	}
	_ = load() // warms the server's caches and the browser's disk cache
	var times []time.Duration
	b.ResetTimer()
	for b.Loop() {
		times = append(times, load())
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms/page")

	// What the page cost on the wire, measured by Chromium itself.
	sctx, cancel := context.WithTimeout(tab, consoleStep)
	defer cancel()
	type wire struct {
		Transferred int      `json:"transferred"`
		Decoded     int      `json:"decoded"`
		Rows        int      `json:"rows"`
		Slowest     []string `json:"slowest"`
	}
	w, err := chromedp.Run(sctx, chromedp.Evaluate[wire](`(() => {
		const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
		return {transferred: all.reduce((n, e) => n + e.transferSize, 0), decoded: all.reduce((n, e) => n + e.decodedBodySize, 0),
			rows: document.querySelectorAll('tr[data-test="rule"]').length,
			slowest: all.map((e) => [Math.round(e.startTime) + '+' + Math.round(e.duration) + 'ms', e.name.replace(location.origin, '').slice(0, 90)].join(' '))};
	})()`))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("firewall page with 1,000 rules: median %v to usable over %d loads; %d rule rows shown; %d bytes transferred (%d decoded), API calls included",
		times[len(times)/2].Round(time.Millisecond), len(times), w.Rows, w.Transferred, w.Decoded)
	b.Logf("the last load's requests (start+duration): %s", strings.Join(w.Slowest, "; "))
}

// TestConsoleServedByTheAPI checks the /ui/ mount through the whole API
// handler, without a browser: /ui redirects to /ui/, every answer carries
// the console's security headers and no cookie, and the rate limiter,
// which guards /api/v1, leaves the static assets alone while the API
// calls the console makes are limited like any other client's.
func TestConsoleServedByTheAPI(t *testing.T) {
	base := newOptionsServer(t, Options{RateLimit: RateLimit{Rate: 0.01, Burst: 2}})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, token string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := get("/ui", ""); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /ui: %d to %q, want 301 to /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"/ui/", "/ui/js/core.js", "/ui/css/console.css", "/ui/js/app.js", "/ui/no-such-file"} {
		t.Run(p, func(t *testing.T) {
			// More requests than the burst: assets are not rate limited.
			for range 4 {
				res := get(p, "")
				want := http.StatusOK
				if p == "/ui/no-such-file" {
					want = http.StatusNotFound
				}
				if res.StatusCode != want {
					t.Fatalf("status %d, want %d", res.StatusCode, want)
				}
				for k, v := range map[string]string{
					"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
					"X-Frame-Options":         "DENY",
					"X-Content-Type-Options":  "nosniff",
					"Referrer-Policy":         "no-referrer",
				} {
					if got := res.Header.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
					t.Errorf("sets cookies: %q", c)
				}
			}
		})
	}
	// The console's API calls carry its bearer token and are limited per
	// subject: after the burst, 429.
	tok := mintToken(t, "console-user", auth.Viewer)
	var statuses []int
	for range 3 {
		statuses = append(statuses, get("/api/v1/firewalls", tok).StatusCode)
	}
	if !slices.Equal(statuses, []int{200, 200, 429}) {
		t.Fatalf("API calls with the console's token: %v, want [200 200 429]", statuses)
	}
}

// TestConsoleFirewallList pages through 30 firewalls 25 at a time, there
// and back, and narrows the list with an AIP-160 filter.
func TestConsoleFirewallList(t *testing.T) {
	s := newConsoleSession(t)
	for i := range 30 {
		labels := map[string]string{"env": "prod"}
		if i%3 == 0 {
			labels["env"] = "lab"
		}
		s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls", map[string]any{"name": fmt.Sprintf("edge-%02d", i), "labels": labels})
	}
	s.signIn(t, s.tokens["viewer"])
	s.waitText(t, `[data-test="fw-table"]`, "edge-24")
	if n := consoleEval[int](t, s, "count rows", `document.querySelectorAll('[data-test="fw-link"]').length`); n != 25 {
		t.Fatalf("first page: %d firewalls, want 25", n)
	}
	s.click(t, `[data-test="pager-next"]`)
	s.waitText(t, `[data-test="fw-table"]`, "edge-29")
	s.waitText(t, ".pager", "Page 2")
	s.screenshot(t, "firewalls-page-2")
	s.click(t, `[data-test="pager-prev"]`)
	s.waitText(t, `[data-test="fw-table"]`, "edge-00")
	s.waitText(t, ".pager", "Page 1")

	s.fill(t, `[data-test="fw-filter"]`, `labels.env = "lab" AND name = "edge-1*"`)
	s.click(t, `[data-test="fw-filter-apply"]`)
	s.waitCount(t, `[data-test="fw-link"]`, 3)
	names := consoleEval[[]string](t, s, "read names", `[...document.querySelectorAll('[data-test="fw-link"]')].map((a) => a.textContent)`)
	if strings.Join(names, ",") != "edge-12,edge-15,edge-18" {
		t.Fatalf("filtered list: %v, want edge-12, edge-15, edge-18", names)
	}
	s.screenshot(t, "firewalls-filtered")
	s.axe(t, "firewalls (filtered)")

	// The keyboard: the first Tab reaches the skip link, and a focused
	// control shows a focus ring.
	s.do(t, "load the list afresh", chromedp.Navigate(s.base+"/healthz"), chromedp.Navigate(s.base+"/ui/#/firewalls"), uiVisible(`[data-test="fw-table"]`))
	s.do(t, "press Tab", chromedp.KeyEvent("\t"))
	type focus struct {
		ID      string `json:"id"`
		Outline string `json:"outline"`
	}
	f := consoleEval[focus](t, s, "read the focus", `({id: document.activeElement.id || document.activeElement.tagName + " " + document.activeElement.textContent.slice(0, 40), outline: getComputedStyle(document.activeElement).outlineStyle})`)
	if f.ID != "skip-link" || f.Outline == "none" {
		t.Fatalf("after one Tab: focus on %q with outline %q, want the skip link with a visible outline", f.ID, f.Outline)
	}

	// A bad filter says what is wrong, from the API's problem details.
	s.fill(t, `[data-test="fw-filter"]`, `nonsense ==`)
	s.click(t, `[data-test="fw-filter-apply"]`)
	s.waitText(t, `[data-test="error"]`, "filter")
}

// TestConsoleRulePages shows a policy's 120 rules 50 at a time, and opens
// a link to rule 110, which starts the list a little before it and marks
// it.
func TestConsoleRulePages(t *testing.T) {
	s := newConsoleSession(t)
	fwID := s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls", map[string]any{"name": "edge-paged"})["id"].(string)
	rulesPath := "/api/v1/firewalls/" + fwID + "/filtering-policies/" +
		s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/firewalls/"+fwID+"/filtering-policies", map[string]any{"name": "big", "priority": 1})["id"].(string) + "/rules"
	var ids []string
	for i := range 120 {
		r := s.apiJSON(t, s.tokens["admin"], "POST", rulesPath, map[string]any{"name": fmt.Sprintf("r-%03d", i+1), "action": "allow",
			"protocol": "tcp", "destination_ports": []string{strconv.Itoa(1000 + i)}})
		ids = append(ids, r["id"].(string))
	}
	s.signIn(t, s.tokens["viewer"])
	s.open(t, "/firewalls/"+fwID)
	s.waitCount(t, `tr[data-test="rule"]`, 50)
	s.waitText(t, `tr[data-position="50"]`, "r-050")
	s.click(t, `[data-test="policy"] [data-test="pager-next"]`)
	s.waitText(t, `tr[data-position="100"]`, "r-100")
	s.waitCount(t, `tr[data-test="rule"]`, 50)
	s.click(t, `[data-test="policy"] [data-test="pager-next"]`)
	s.waitCount(t, `tr[data-test="rule"]`, 20)
	s.click(t, `[data-test="policy"] [data-test="pager-prev"]`)
	s.waitText(t, `tr[data-position="51"]`, "r-051")

	s.open(t, "/firewalls/"+fwID+"?rule="+ids[109])
	s.waitText(t, "#rule-"+ids[109]+".highlight", "r-110")
	first := consoleEval[string](t, s, "first row", `document.querySelector('tr[data-test="rule"]').dataset.position`)
	if first != "105" {
		t.Fatalf("the list around rule 110 starts at %s, want 105", first)
	}
	s.screenshot(t, "rule-deep-link")
}
