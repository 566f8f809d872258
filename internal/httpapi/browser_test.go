package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/fireflow/fireflow/internal/auth"
)

// chromiumNames are the binaries findChromium looks for on PATH. Only a
// browser from the system's packages is used; nothing is downloaded.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// findChromium returns the path of a Chromium on PATH. Without one the test
// fails on CI (CI=true), where .ci/run installs Debian's chromium, and is
// skipped elsewhere.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no Chromium on PATH (looked for %s): on CI, .ci/run should have installed Debian's chromium package",
			strings.Join(chromiumNames, ", "))
	}
	t.Skipf("SKIPPING browser test: no chromium on PATH (looked for %s); apt-get install chromium",
		strings.Join(chromiumNames, ", "))
	return ""
}

// browserOutput collects the browser's output, which chromedp writes from
// its own goroutine.
type browserOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *browserOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *browserOutput) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// uiPaste enters text into the focused field in one go, as a paste or an
// IME does: the page sees the same input events as for typing, but a JWT
// does not take seconds of key events as with chromedp.SendKeys.
func uiPaste(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		_, err := cdp.Call(ctx, tab, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// uiNamed adds the selector to the error of a query action, so that a timeout
// says what it waited for.
func uiNamed(what, sel string, a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tab *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, tab)
		if err != nil {
			err = fmt.Errorf("%s %s: %w", what, sel, err)
		}
		return v, err
	}
}

// uiClick, uiVisible and uiGone are chromedp.Click, WaitVisible and WaitNotPresent
// on a CSS selector, with the selector in their errors.
func uiClick(sel string) chromedp.Action[chromedp.Void] {
	return uiNamed("click", sel, chromedp.Click(chromedp.CSS(sel)))
}

func uiVisible(sel string) chromedp.Action[chromedp.Void] {
	return uiNamed("wait for", sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

func uiGone(sel string) chromedp.Action[chromedp.Void] {
	return uiNamed("wait for the end of", sel, chromedp.WaitNotPresent(chromedp.CSS(sel)))
}

// TestSwaggerUIListsFirewallsInABrowser drives Swagger UI in headless
// Chromium: without a token GET /api/v1/firewalls answers 401; after
// Authorize with a viewer token it answers 200 and lists the firewall.
//
// On failure it saves a screenshot, the page's HTML and the browser's output
// in t.ArtifactDir(), a temporary directory that is kept only with
// `go test -artifacts -outputdir DIR`.
func TestSwaggerUIListsFirewallsInABrowser(t *testing.T) {
	bin := findChromium(t)

	s := newTestServer(t)
	s.must(http.StatusCreated, "POST", "/api/v1/firewalls", map[string]any{"name": "edge-browser"})
	token := mintToken(t, "browser", auth.Viewer)

	// This machine (and CI) may have only loopback: keep Chromium off the
	// network, or it stalls on connections it will never make. Some flags
	// repeat the defaults, to keep the list that matters in one place.
	var browserLog browserOutput
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no-first-run, disable-sync, ...
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // we may run as root (containers, CI)
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
		chromedp.CombinedOutput(&browserLog),
	)

	// Everything, browser included, ends within three minutes; each step
	// gets a shorter deadline so that a stuck step still leaves time for a
	// screenshot. The deadlines only guard against a hang: on a loaded
	// 2-core machine the first page load alone has taken over 15 s.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	started := time.Now()
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("start %s: %v\n%s", bin, err, browserLog.Bytes())
	}
	t.Logf("started %s in %v", bin, time.Since(started).Round(time.Millisecond))

	// On failure, save what the browser shows. Deferred after the browser's
	// cancel funcs, so it runs while the browser is still up.
	defer func() {
		if !t.Failed() {
			return
		}
		dir := t.ArtifactDir()
		actx, acancel := context.WithTimeout(browserCtx, 5*time.Second)
		defer acancel()
		if png, err := chromedp.Run(actx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "swagger-ui.png"), png, 0o644)
		} else {
			t.Logf("screenshot: %v", err)
		}
		if html, err := chromedp.Run(actx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "swagger-ui.html"), []byte(html), 0o644)
		}
		_ = os.WriteFile(filepath.Join(dir, "chromium.log"), browserLog.Bytes(), 0o644)
		t.Logf("screenshot, HTML and browser output in %s (kept with go test -artifacts -outputdir DIR)", dir)
	}()

	// step runs actions with a deadline of its own.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(browserCtx, 45*time.Second)
		defer scancel()
		begun := time.Now()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %v", what, time.Since(begun).Round(time.Millisecond))
	}
	text := func(what, sel string) string {
		t.Helper()
		sctx, scancel := context.WithTimeout(browserCtx, 45*time.Second)
		defer scancel()
		got, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s (%s): %v", what, sel, err)
		}
		return strings.TrimSpace(got)
	}

	// Selectors of the Swagger UI 5 DOM (swgui v5emb), checked against the
	// rendered page.
	const (
		op          = "#operations-Firewalls-list-firewalls" // GET /api/v1/firewalls
		opExpand    = op + " .opblock-summary-control"
		tryOut      = op + " .try-out__btn"
		execute     = op + " .btn.execute"
		clearResp   = op + " .btn-clear"
		live        = op + " .live-responses-table"
		liveStatus  = live + " tr.response .response-col_status" // the header row has that class too
		liveBody    = live + " tr.response .highlight-code pre"  // the body; the headers are another <pre>
		curl        = op + " .curl-command"
		openAuth    = ".auth-wrapper .btn.authorize" // the page's Authorize button
		authLocked  = ".auth-wrapper .btn.authorize.locked"
		bearerInput = ".modal-ux input#auth-bearer-value" // the field of the "bearer" scheme
		applyAuth   = ".modal-ux .auth-btn-wrapper .btn.authorize"
		authorized  = `.modal-ux button[aria-label="Remove authorization"]` // "Logout"
		closeModal  = ".modal-ux .auth-btn-wrapper .btn-done"
		modal       = ".modal-ux"
	)
	execAndRead := func(what string) (status, body string) {
		t.Helper()
		step(what, uiClick(execute), uiVisible(liveStatus))
		return text(what+": status", liveStatus), text(what+": body", liveBody)
	}

	docsURL := s.url + "/docs/swagger-ui/"
	step("open "+docsURL, chromedp.Navigate(docsURL), uiVisible(op))
	step("expand list-firewalls", uiClick(opExpand), uiVisible(tryOut))
	step("try it out", uiClick(tryOut), uiVisible(execute))

	// Not authorized yet: Swagger UI sends no token, and the API says 401.
	status, body := execAndRead("execute without a token")
	if status != "401" {
		t.Fatalf("without Authorize: status %q, want 401; body: %s", status, body)
	}
	step("clear the response", uiClick(clearResp), uiGone(live))

	step("authorize with a viewer token",
		uiClick(openAuth),
		uiVisible(bearerInput),
		uiNamed("focus", bearerInput, chromedp.Focus(chromedp.CSS(bearerInput))),
		uiPaste(token),
		uiClick(applyAuth),
		uiVisible(authorized),
		uiClick(closeModal),
		uiGone(modal),
		uiVisible(authLocked),
	)

	status, body = execAndRead("execute with the token")
	if status != "200" {
		t.Fatalf("after Authorize: status %q, want 200; body: %s", status, body)
	}
	if !strings.Contains(body, `"edge-browser"`) {
		t.Fatalf("after Authorize: the response body does not list edge-browser: %s", body)
	}
	// The 200 (after the 401 above) shows that the request carried the token;
	// the curl command Swagger UI shows says which one.
	if c := text("curl command", curl); !strings.Contains(c, "Authorization: Bearer "+token) {
		t.Fatalf("the curl command does not send the viewer token: %s", c)
	}
	t.Logf("Swagger UI: 401 without a token, 200 listing edge-browser with one; %v in all",
		time.Since(started).Round(time.Millisecond))
}
