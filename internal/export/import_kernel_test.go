package export

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/fireflow/fireflow/internal/export/kerneltest"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

var importNSSeq atomic.Int64

// importNS creates a network namespace of its own for t and removes it
// when t ends, failed or not. Rulesets are loaded and dumped only there;
// the host's ruleset is never touched.
func importNS(t *testing.T) string {
	t.Helper()
	kerneltest.Require(t, "nft", "iptables-restore", "ip6tables-restore", "iptables-save", "ip6tables-save")
	name := fmt.Sprintf("ffimp-%d-%d", os.Getpid(), importNSSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

// nsRun runs a tool in the namespace with stdin and returns its output.
func nsRun(t *testing.T, ns string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v in %s: %v: %s\ninput:\n%s", args, ns, err, stderr.Bytes(), stdin)
	}
	return out
}

// trees is how many random firewalls a kernel round trip loads: 50 on the
// forward hook, which the packet tests judge, fewer on the others, whose
// chains differ only in name.
func (c roundTripCase) trees() int {
	if c.hook == Forward && (!c.merge || !c.stateful) {
		return 50
	}
	return 15
}

// TestImportRoundTripNFTablesKernel: the kernel turns each export into
// nft -j list ruleset output, and its import decides every sampled valid
// flow as the original firewall does.
func TestImportRoundTripNFTablesKernel(t *testing.T) {
	ns := importNS(t)
	for _, c := range roundTripCases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(61, uint64(len(c.name))))
			trees, flows := 0, 0
			for i := range c.trees() {
				tree := fwgen.NewAdversarial(r, false).Tree(6, 40)
				tree.Firewall.Name = fmt.Sprintf("rt %d", i)
				res, err := Render(&tree, Options{Format: NFTables, Hook: c.hook, Stateful: c.stateful, Merge: c.merge, Now: fwgen.Now, Table: "ffimp_rt"})
				if err != nil {
					t.Fatalf("tree %d: render: %v", i, err)
				}
				dump := nsRun(t, ns, res.Text, "sh", "-c", "nft flush ruleset && nft -f - && nft -j list ruleset")
				imp, err := Import(ImportNFTables, dump, ImportOptions{Chain: "ffimp_rt/" + string(c.hook)})
				if err != nil {
					t.Fatalf("tree %d: import: %v\n%s", i, err, dump)
				}
				if len(imp.Skipped) > 0 {
					t.Fatalf("tree %d: the import of an export skipped %v\n%s", i, imp.Skipped, res.Text)
				}
				got := importedTree(imp)
				trees++
				flows += compareDecisions(t, r, &tree, &got, 500, func() string { return string(res.Text) + "\n" + describe(imp) })
			}
			t.Logf("%d trees, %d valid flows compared, 0 disagreements", trees, flows)
		})
	}
}

// TestImportRoundTripIPTablesKernel: the same through iptables-restore and
// iptables-save (and their IPv6 twins), whose output the import reads.
func TestImportRoundTripIPTablesKernel(t *testing.T) {
	ns := importNS(t)
	for _, c := range roundTripCases {
		if c.merge && c.hook == Forward {
			continue // merge changes only nftables: the same as "forward" here
		}
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(62, uint64(len(c.name))))
			trees, flows := 0, 0
			for i := range c.trees() {
				tree := fwgen.NewAdversarial(r, false).Tree(6, 40)
				var dump []byte
				for _, f := range []Format{IPTables, IP6Tables} {
					res, err := Render(&tree, Options{Format: f, Hook: c.hook, Stateful: c.stateful, Now: fwgen.Now})
					if err != nil {
						t.Fatalf("tree %d: render %s: %v", i, f, err)
					}
					dump = append(dump, nsRun(t, ns, res.Text, "sh", "-c", string(f)+"-restore && "+string(f)+"-save")...)
				}
				imp, err := Import(ImportIPTables, dump, ImportOptions{Chain: c.chain})
				if err != nil {
					t.Fatalf("tree %d: import: %v\n%s", i, err, dump)
				}
				if len(imp.Skipped) > 0 {
					t.Fatalf("tree %d: the import of an export skipped %v\n%s", i, imp.Skipped, dump)
				}
				got := importedTree(imp)
				trees++
				flows += compareDecisions(t, r, &tree, &got, 500, func() string { return string(dump) + "\n" + describe(imp) })
			}
			t.Logf("%d trees, %d valid flows compared, 0 disagreements", trees, flows)
		})
	}
}

// TestImportFixturesKernel: the committed fixtures are what this kernel
// prints for their sources (sources beside them: .nft for nft -f, and the
// iptables-save files load as they are), compared as the import reads them.
func TestImportFixturesKernel(t *testing.T) {
	ns := importNS(t)
	cases := []struct {
		source, dump, load, save string
		format                   ImportFormat
		chain                    string
	}{
		{"mixed.iptables", "mixed.iptables", "iptables-restore", "iptables-save", ImportIPTables, ""},
		{"mixed.ip6tables", "mixed.ip6tables", "ip6tables-restore", "ip6tables-save", ImportIP6Tables, ""},
		{"mixed.nft", "mixed.nft.json", "nft flush ruleset && nft -f -", "nft -j list ruleset", ImportNFTables, ""},
		{"sets.nft", "sets.nft.json", "nft flush ruleset && nft -f -", "nft -j list ruleset", ImportNFTables, "filt/forwardc"},
	}
	for _, c := range cases {
		t.Run(c.source, func(t *testing.T) {
			live := nsRun(t, ns, readFixture(t, c.source), "sh", "-c", c.load+" && "+c.save)
			want, err := Import(c.format, readFixture(t, c.dump), ImportOptions{Chain: c.chain})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Import(c.format, live, ImportOptions{Chain: c.chain})
			if err != nil {
				t.Fatalf("import of the live dump: %v\n%s", err, live)
			}
			if d := cmpDescribe(want, got); d != "" {
				t.Fatalf("the live dump imports differently from the fixture:\n%s", d)
			}
		})
	}
}
