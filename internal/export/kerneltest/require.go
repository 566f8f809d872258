// Package kerneltest lets tests use the real Linux kernel as the judge of
// an exported ruleset: it checks that the tools are there, runs them in a
// throwaway network namespace, and builds a client–firewall–server lab of
// namespaces joined by veth pairs in which real packets are sent and their
// fate recorded (see Lab).
//
// Everything runs only inside namespaces the test creates and removes with
// t.Cleanup; the host's ruleset and interfaces are never touched. Without
// root or the tools the tests skip loudly, and under CI=true they fail.
package kerneltest

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// Require skips t (or fails it under CI=true) unless the process is root
// and every named tool is on PATH, along with ip and unshare.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
	}
	for _, tool := range append([]string{"ip", "unshare"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil && missing == "" {
			missing = tool + " (make ci-deps installs nftables, iptables and iproute2)"
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("kernel test needs %s, and CI=true forbids skipping", missing)
	}
	t.Skipf("SKIPPED: kernel test needs %s", missing)
}

// Check runs `tool args...` with stdin in a fresh, empty network namespace
// (unshare -n), so that even a check that loaded something could not touch
// the host. It returns the combined output.
func Check(stdin []byte, tool string, args ...string) ([]byte, error) {
	cmd := exec.Command("unshare", append([]string{"--net", "--", tool}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd.CombinedOutput()
}
