package firewall

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzGroupPatch feeds arbitrary JSON merge patches to address and service
// groups: parsing members and references must never panic, and a patch
// that is accepted must leave a valid group whose members print and parse
// back to themselves.
func FuzzGroupPatch(f *testing.F) {
	for _, seed := range []string{
		`{"addresses":["10.0.0.0/8","2001:db8::1"],"groups":["web","dmz"]}`,
		`{"addresses":["10.0.0.1/8"]}`,
		`{"groups":[""," ","web","WEB"]}`,
		`{"services":[{"protocol":"tcp","ports":["443","8000-8080"]},{"protocol":"icmp","ports":["1"]}]}`,
		`{"services":[{"protocol":"","ports":[]},{"protocol":"sctp"}]}`,
		`{"name":null,"labels":{"a":null}}`,
		`{"addresses":null,"groups":null,"services":null}`,
	} {
		f.Add([]byte(seed))
	}
	base := AddressGroup{Name: "base", Labels: map[string]string{}}
	sbase := ServiceGroup{Name: "base", Labels: map[string]string{}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in struct {
			Name        Optional[string]             `json:"name"`
			Description Optional[string]             `json:"description"`
			Labels      Optional[map[string]*string] `json:"labels"`
			Addresses   Optional[[]string]           `json:"addresses"`
			Services    Optional[[]ServiceSpec]      `json:"services"`
			Groups      Optional[[]string]           `json:"groups"`
		}
		if json.Unmarshal(data, &in) != nil {
			return
		}
		ag, err := AddressGroupPatch{in.Name, in.Description, in.Labels, in.Addresses, in.Groups}.Apply(base)
		if err == nil {
			if err := ag.Validate(); err != nil {
				t.Fatalf("accepted group is not valid: %v", err)
			}
			for _, p := range ag.Addresses {
				back, err := ParsePrefix(p.String())
				if err != nil || back != p {
					t.Fatalf("address %v does not round-trip: %v %v", p, back, err)
				}
			}
			for _, r := range ag.Groups {
				if strings.TrimSpace(r.Name) == "" {
					t.Fatalf("accepted a blank reference: %+v", ag.Groups)
				}
			}
		}
		sg, err := ServiceGroupPatch{in.Name, in.Description, in.Labels, in.Services, in.Groups}.Apply(sbase)
		if err == nil {
			if err := sg.Validate(); err != nil {
				t.Fatalf("accepted service group is not valid: %v", err)
			}
			for _, s := range sg.Services {
				if len(s.Ports) > 0 && !s.Protocol.HasPorts() {
					t.Fatalf("accepted ports with %s", s.Protocol)
				}
			}
		}
	})
}
