package httpapi

import (
	"bytes"
	"strconv"
)

// A 10,000-flow evaluation spends more time in generic JSON decoding and
// schema validation than in deciding the flows. fastEvaluateInput reads the
// plain shape that clients send almost always: the known keys, no escapes,
// no nulls, in-range values. It either returns exactly what the generic
// path would, or reports false, and the caller takes the generic path,
// which also explains every error. A fuzz test holds the two together.

// fastEvaluateInput parses body, or reports false if it is not of the plain shape.
func fastEvaluateInput(body []byte) (EvaluateInput, bool) {
	p := fastParser{b: body}
	var in EvaluateInput
	seen := map[string]bool{}
	ok := p.object(func(key []byte) bool {
		if seen[string(key)] {
			return false
		}
		seen[string(key)] = true
		switch string(key) {
		case "flows":
			return p.flows(&in.Flows)
		case "flow":
			in.Flow = &Flow{}
			return p.flow(in.Flow)
		case "explain":
			return p.boolean(&in.Explain)
		}
		return false
	})
	p.space()
	if !ok || p.i != len(p.b) {
		return EvaluateInput{}, false
	}
	return in, true
}

type fastParser struct {
	b []byte
	i int
	// ports holds the parsed ports, so that a batch allocates them at
	// once rather than one by one.
	ports []int
}

func (p *fastParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\r' || p.b[p.i] == '\t') {
		p.i++
	}
}

func (p *fastParser) consume(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling member to read each value.
func (p *fastParser) object(member func(key []byte) bool) bool {
	if !p.consume('{') {
		return false
	}
	if p.consume('}') {
		return true
	}
	for {
		key, ok := p.raw()
		if !ok || !p.consume(':') || !member(key) {
			return false
		}
		if p.consume('}') {
			return true
		}
		if !p.consume(',') {
			return false
		}
	}
}

// str reads a string without escapes or control characters.
func (p *fastParser) str() (string, bool) {
	s, ok := p.raw()
	return string(s), ok
}

// raw reads a string like str but returns its bytes, so that keys and
// protocols, which are only compared, cost no allocation per flow.
func (p *fastParser) raw() ([]byte, bool) {
	if !p.consume('"') {
		return nil, false
	}
	end := bytes.IndexByte(p.b[p.i:], '"')
	if end < 0 {
		return nil, false
	}
	s := p.b[p.i : p.i+end]
	for _, c := range s {
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return nil, false
		}
	}
	p.i += end + 1
	return s, true
}

// protocol reads a protocol name and returns it as one of the constant
// names, so that a batch shares them instead of allocating each.
func (p *fastParser) protocol() (string, bool) {
	s, ok := p.raw()
	if !ok {
		return "", false
	}
	for _, name := range [...]string{"tcp", "udp", "icmp", "icmpv6"} {
		if string(s) == name {
			return name, true
		}
	}
	return "", false
}

func (p *fastParser) boolean(v *bool) bool {
	p.space()
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		*v, p.i = true, p.i+4
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		*v, p.i = false, p.i+5
	default:
		return false
	}
	return true
}

// port reads an integer from 1 to 65535 written plainly.
func (p *fastParser) port(v **int) bool {
	p.space()
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	digits := p.b[start:p.i]
	if len(digits) == 0 || len(digits) > 5 || digits[0] == '0' {
		return false
	}
	n := 0
	for _, d := range digits {
		n = n*10 + int(d-'0')
	}
	if n > 65535 {
		return false
	}
	if len(p.ports) == cap(p.ports) {
		p.ports = make([]int, 0, 256)
	}
	p.ports = append(p.ports, n)
	*v = &p.ports[len(p.ports)-1]
	return true
}

func (p *fastParser) flows(out *[]Flow) bool {
	if !p.consume('[') {
		return false
	}
	n := min(bytes.Count(p.b[p.i:], []byte("{")), maxFlows)
	*out = make([]Flow, 0, n)
	p.ports = make([]int, 0, 2*n)
	if p.consume(']') {
		return true
	}
	for {
		if len(*out) == maxFlows {
			return false
		}
		*out = append(*out, Flow{})
		if !p.flow(&(*out)[len(*out)-1]) {
			return false
		}
		if p.consume(']') {
			return true
		}
		if !p.consume(',') {
			return false
		}
	}
}

func (p *fastParser) flow(f *Flow) bool {
	seen := 0
	return p.object(func(key []byte) bool {
		var bit int
		var ok bool
		switch string(key) {
		case "protocol":
			bit = 1
			f.Protocol, ok = p.protocol()
		case "source_ip":
			bit = 2
			f.SourceIP, ok = p.str()
			ok = ok && len(f.SourceIP) <= 64
		case "destination_ip":
			bit = 4
			f.DestinationIP, ok = p.str()
			ok = ok && len(f.DestinationIP) <= 64
		case "source_port":
			bit = 8
			ok = p.port(&f.SourcePort)
		case "destination_port":
			bit = 16
			ok = p.port(&f.DestinationPort)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) && seen&7 == 7 // protocol and both addresses are required
}

// appendDecisions writes the answer to a batch without explain, in the
// shape EvaluateOutput documents. The caller has checked that every value
// is an enum or a plain id, so nothing needs escaping.
func appendDecisions(buf []byte, revision int64, ds []Decision, single bool) []byte {
	buf = append(buf, `{"revision":`...)
	buf = strconv.AppendInt(buf, revision, 10)
	if single && len(ds) == 1 {
		buf = append(buf, `,"decision":`...)
		buf = appendDecision(buf, ds[0])
	}
	buf = append(buf, `,"decisions":[`...)
	for i, d := range ds {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendDecision(buf, d)
	}
	return append(buf, "]}\n"...)
}

func appendDecision(buf []byte, d Decision) []byte {
	buf = append(buf, `{"action":"`...)
	buf = append(buf, d.Action...)
	buf = append(buf, `","decided_by":"`...)
	buf = append(buf, d.DecidedBy...)
	buf = append(buf, '"')
	if d.PolicyID != "" {
		buf = append(append(append(buf, `,"policy_id":"`...), d.PolicyID...), '"')
	}
	if d.RuleID != "" {
		buf = append(append(append(buf, `,"rule_id":"`...), d.RuleID...), '"')
	}
	return append(buf, '}')
}
