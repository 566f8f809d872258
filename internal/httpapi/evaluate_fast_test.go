package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/google/go-cmp/cmp"
)

// FuzzFastEvaluateInput holds the fast path to the generic one: whatever
// the fast path accepts, the body check accepts unchanged (so the fast
// path keeps its rules: UTF-8, unique keys, types), and encoding/json
// decodes to the same value, with no unknown field and within the
// documented limits.
func FuzzFastEvaluateInput(f *testing.F) {
	reg := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	schema := reg.Schema(reflect.TypeFor[EvaluateInput](), true, "EvaluateInput")
	for _, s := range []string{
		`{"flows":[{"protocol":"tcp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":1,"destination_port":65535}]}`,
		`{"flow":{"protocol":"icmp","source_ip":"::1","destination_ip":"::2"},"explain":true}`,
		` { "explain" : false , "flows" : [ ] } `,
		`{"flows":[{"protocol":"udp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":0}]}`,
		`{"flows":[{"protocol":"udp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":01}]}`,
		`{"flows":[{"protocol":"udp","protocol":"tcp","source_ip":"a","destination_ip":"b"}]}`,
		`{"flow":null}`, `{"flows":[{"protocol":"t\u0063p"}]}`, `{"x":1}`, `[]`, `{"flows":[]}x`,
		`{"flow":{"protocol":"tcp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":1,"destination_port":2},"flows":[]}`,
		"{\"flows\":[{\"protocol\":\"tcp\",\"source_ip\":\"10.0.0.1\xff\",\"destination_ip\":\"b\",\"source_port\":1,\"destination_port\":2}]}",
		`{"explain":true,"explain":false,"flows":[]}`, `{"flows":[{"protocol":"tcp","source_ip":"a","destination_ip":"b","source_port":1.0,"destination_port":2}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := fastEvaluateInput(body)
		if !ok {
			return
		}
		if checked, problems := checkJSONBody(reg, schema, body); problems != nil || !bytes.Equal(checked, body) {
			t.Fatalf("fast path accepted %q, which the body check refuses or changes: %+v", body, problems)
		}
		var slow EvaluateInput
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&slow); err != nil {
			t.Fatalf("fast path accepted %q, which encoding/json refuses: %v", body, err)
		}
		if dec.More() {
			t.Fatalf("fast path accepted trailing data in %q", body)
		}
		if diff := cmp.Diff(slow, fast); diff != "" {
			t.Fatalf("fast path differs on %q (-json +fast):\n%s", body, diff)
		}
		for _, fl := range append(fast.Flows, derefFlow(fast.Flow)...) {
			if len(fl.SourceIP) > 64 || len(fl.DestinationIP) > 64 || !validPort(fl.SourcePort) || !validPort(fl.DestinationPort) {
				t.Fatalf("fast path accepted an out-of-range flow %+v", fl)
			}
		}
		if len(fast.Flows) > maxFlows {
			t.Fatalf("fast path accepted %d flows", len(fast.Flows))
		}
	})
}

func derefFlow(f *Flow) []Flow {
	if f == nil {
		return nil
	}
	return []Flow{*f}
}

func validPort(p *int) bool { return p == nil || (*p >= 1 && *p <= 65535) }
