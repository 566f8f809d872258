package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxAnswer bounds what a command reads of a server's answer: an export of
// 100,000 rules is tens of MB, so this leaves room without trusting the
// server with the client's memory.
const maxAnswer = 1 << 30

// serverFlags are the flags of the commands that ask a server about one
// firewall: its base URL, the firewall, a bearer token and a time limit.
type serverFlags struct {
	base, firewallID, token *string
	timeout                 *time.Duration
}

// addServerFlags declares the server flags on fs. role names the role the
// token needs; defaultURL is "" for commands that can also work offline.
func addServerFlags(fs *flag.FlagSet, getenv func(string) string, role, defaultURL string, timeout time.Duration) serverFlags {
	return serverFlags{
		base:       fs.String("url", defaultURL, "FireFlow's base URL"),
		firewallID: fs.String("firewall", "", "the firewall's id"),
		token:      fs.String("token", getenv("FIREFLOW_TOKEN"), "bearer token with the "+role+" role (FIREFLOW_TOKEN)"),
		timeout:    fs.Duration("timeout", timeout, "how long to wait for the answer"),
	}
}

// call sends one request to the firewall's action (such as "evaluate"),
// bounded by --timeout, and returns the answer's body.
func (c serverFlags) call(ctx context.Context, method, action string, q url.Values, contentType string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, *c.timeout)
	defer cancel()
	return callAPI(ctx, method, firewallURL(*c.base, *c.firewallID, action, q), *c.token, contentType, body)
}

// firewallURL is the URL of one of a firewall's sub-resources or actions,
// such as "evaluate" or "export", with its query.
func firewallURL(base, firewallID, action string, q url.Values) string {
	u := strings.TrimRight(base, "/") + "/api/v1/firewalls/" + url.PathEscape(firewallID) + "/" + action
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// callAPI sends one request to a FireFlow server with the bearer token and
// returns the answer's body when its status is 200. Any other status is an
// error quoting the problem the server sent. body may be nil.
func callAPI(ctx context.Context, method, endpoint, token, contentType string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", res.Status, strings.TrimSpace(string(answer)))
	}
	return answer, nil
}
