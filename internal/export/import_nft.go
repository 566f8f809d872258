package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fireflow/fireflow/internal/firewall"
)

// impMaxAlternatives bounds the alternatives one nftables rule expands into
// (concatenations and sets multiply).
const impMaxAlternatives = 4096

// The objects of `nft -j list ruleset` that the importer reads (libnftables-json(5)).
type (
	impNftTable struct {
		Family string `json:"family"`
		Name   string `json:"name"`
	}
	impNftChain struct {
		Family string `json:"family"`
		Table  string `json:"table"`
		Name   string `json:"name"`
		Type   string `json:"type"`
		Hook   string `json:"hook"`
		Policy string `json:"policy"`
	}
	impNftSet struct {
		Family string   `json:"family"`
		Table  string   `json:"table"`
		Name   string   `json:"name"`
		Flags  []string `json:"flags"`
		Elem   []any    `json:"elem"`
	}
	impNftRule struct {
		Family  string            `json:"family"`
		Table   string            `json:"table"`
		Chain   string            `json:"chain"`
		Handle  int64             `json:"handle"`
		Comment string            `json:"comment"`
		Expr    []json.RawMessage `json:"expr"`
	}
)

// impNftParser reads the JSON of `nft -j list ruleset`.
type impNftParser struct {
	rs     *impRuleset
	tables map[string]*impGraph    // by "family name"
	sets   map[string]*impNftSet   // by "family name set"
	chains map[string]*impNftChain // by "family name chain"
	order  []string                // chain keys in input order
}

func impTableKey(family, table string) string { return family + " " + table }

func impParseNFTJSON(input []byte) (*impRuleset, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	if err := dec.Decode(&doc); err != nil {
		return nil, &ImportSyntaxError{Location: "body", Reason: "not the JSON of nft -j list ruleset: " + err.Error()}
	}
	if doc.Nftables == nil {
		return nil, &ImportSyntaxError{Location: "nftables", Reason: "the JSON has no \"nftables\" array; give the output of nft -j list ruleset"}
	}
	p := &impNftParser{rs: &impRuleset{}, tables: map[string]*impGraph{}, sets: map[string]*impNftSet{}, chains: map[string]*impNftChain{}}
	var rules []impNftRuleAt
	for i, obj := range doc.Nftables {
		loc := fmt.Sprintf("nftables[%d]", i)
		if len(obj) != 1 {
			return nil, &ImportSyntaxError{Location: loc, Reason: "each element holds exactly one object (table, chain, rule, set ...)"}
		}
		for kind, raw := range obj {
			r, err := p.object(loc, kind, raw)
			if err != nil {
				return nil, err
			}
			if r != nil {
				rules = append(rules, impNftRuleAt{loc: loc, r: r})
			}
		}
	}
	for _, r := range rules {
		if err := p.rule(r.loc, r.r); err != nil {
			return nil, err
		}
	}
	p.rs.resolve = p.resolve
	return p.rs, nil
}

type impNftRuleAt struct {
	loc string
	r   *impNftRule
}

func impDecodeStrict(loc string, raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return &ImportSyntaxError{Location: loc, Reason: err.Error()}
	}
	return nil
}

func impNftFamily(f string) (impFamily, bool) {
	switch f {
	case "ip":
		return impFam4, true
	case "ip6":
		return impFam6, true
	case "inet":
		return impFamBoth, true
	}
	return 0, false
}

// object reads one element of the nftables array; rules are returned to be
// read once every chain and set is known.
func (p *impNftParser) object(loc, kind string, raw json.RawMessage) (*impNftRule, error) {
	loc += "." + kind
	switch kind {
	case "metainfo":
		return nil, nil
	case "table":
		var t impNftTable
		if err := impDecodeStrict(loc, raw, &t); err != nil {
			return nil, err
		}
		if t.Name == "" || t.Family == "" {
			return nil, &ImportSyntaxError{Location: loc, Reason: "a table needs a family and a name"}
		}
		fam, ok := impNftFamily(t.Family)
		if !ok {
			p.rs.ignored = append(p.rs.ignored, ImportStatement{Table: impTableKey(t.Family, t.Name), Text: "table " + impTableKey(t.Family, t.Name),
				Reason: fmt.Sprintf("tables of family %s are not imported: FireFlow filters IP flows (ip, ip6 and inet tables)", t.Family)})
			return nil, nil
		}
		key := impTableKey(t.Family, t.Name)
		if _, dup := p.tables[key]; dup {
			return nil, &ImportSyntaxError{Location: loc, Reason: "table " + key + " is listed twice"}
		}
		p.tables[key] = &impGraph{fam: fam, name: key, chains: map[string]*impChain{}}
		p.rs.graphs = append(p.rs.graphs, p.tables[key])
	case "chain":
		var c impNftChain
		if err := impDecodeStrict(loc, raw, &c); err != nil {
			return nil, err
		}
		return nil, p.chain(loc, &c)
	case "set":
		var s impNftSet
		if err := impDecodeStrict(loc, raw, &s); err != nil {
			return nil, err
		}
		p.sets[impTableKey(s.Family, s.Table)+" "+s.Name] = &s
	case "rule":
		var r impNftRule
		if err := impDecodeStrict(loc, raw, &r); err != nil {
			return nil, err
		}
		return &r, nil
	}
	// maps, counters, quotas, flowtables ... are read only through rules.
	return nil, nil
}

func (p *impNftParser) chain(loc string, c *impNftChain) error {
	key := impTableKey(c.Family, c.Table)
	if _, ok := impNftFamily(c.Family); !ok {
		return nil
	}
	g, ok := p.tables[key]
	if !ok {
		return &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("chain %s of table %s, which is not listed before it", c.Name, key)}
	}
	if c.Name == "" {
		return &ImportSyntaxError{Location: loc, Reason: "a chain needs a name"}
	}
	if _, dup := g.chains[c.Name]; dup {
		return &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("chain %s of table %s is listed twice", c.Name, key)}
	}
	ic := &impChain{name: c.Name}
	if c.Hook != "" {
		ic.base = true
		switch c.Policy {
		case "accept", "":
			ic.policy = firewall.Allow
		case "drop":
			ic.policy = firewall.Deny
		default:
			return &ImportSyntaxError{Location: loc + ".policy", Reason: fmt.Sprintf("policy %q: base chains have accept or drop", c.Policy)}
		}
	}
	g.chains[c.Name] = ic
	ck := key + " " + c.Name
	p.chains[ck] = c
	p.order = append(p.order, ck)
	return nil
}

// rule reads one rule into its chain's statements.
func (p *impNftParser) rule(loc string, r *impNftRule) error {
	if _, ok := impNftFamily(r.Family); !ok {
		return nil
	}
	key := impTableKey(r.Family, r.Table)
	g, ok := p.tables[key]
	if !ok {
		return &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("rule of table %s, which is not listed", key)}
	}
	c, ok := g.chains[r.Chain]
	if !ok {
		return &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("rule of chain %s, which table %s does not list", r.Chain, key)}
	}
	text, _ := json.Marshal(r.Expr)
	ref := ImportStatement{Handle: r.Handle, Table: key, Chain: r.Chain, Text: impShorten(string(text), impMaxStatementText)}
	st, err := p.statement(loc, g, r, ref)
	if err != nil {
		return err
	}
	c.stmts = append(c.stmts, st)
	return nil
}

// impNftRuleState gathers one rule's expressions.
type impNftRuleState struct {
	g       *impGraph
	alts    []impMatch
	thPorts bool
	states  []string
	matches bool
	skip    string
}

func (s *impNftRuleState) skipWith(format string, args ...any) {
	if s.skip == "" {
		s.skip = fmt.Sprintf(format, args...)
	}
}

// and intersects the rule's alternatives with those of one expression.
func (s *impNftRuleState) and(alts []impMatch) {
	if len(s.alts)*len(alts) > impMaxAlternatives {
		s.skipWith("the rule expands into more than %d FireFlow rules", impMaxAlternatives)
		return
	}
	var out []impMatch
	for _, a := range s.alts {
		for _, b := range alts {
			if m := impIntersect(a, b); !m.none() {
				out = append(out, m)
			}
		}
	}
	if len(out) > impMaxAlternatives {
		s.skipWith("the rule expands into more than %d FireFlow rules", impMaxAlternatives)
		out = out[:1]
	}
	if out == nil {
		out = []impMatch{}
	}
	s.alts = out
}

func (p *impNftParser) statement(loc string, g *impGraph, r *impNftRule, ref ImportStatement) (impStmt, error) {
	s := &impNftRuleState{g: g, alts: []impMatch{{fam: g.fam}}}
	st := impStmt{ref: ref, comment: r.Comment}
	verdict := ""
	for i, raw := range r.Expr {
		eloc := fmt.Sprintf("%s.rule.expr[%d]", loc, i)
		var e map[string]json.RawMessage
		if err := json.Unmarshal(raw, &e); err != nil || len(e) != 1 {
			return st, &ImportSyntaxError{Location: eloc, Reason: "an expression is an object with one key"}
		}
		for kind, body := range e {
			switch kind {
			case "match":
				if err := p.match(eloc+".match", s, body); err != nil {
					return st, err
				}
			case "accept", "drop", "return", "continue":
				verdict = kind
			case "reject":
				verdict = "reject"
			case "jump", "goto":
				var t struct {
					Target string `json:"target"`
				}
				if err := impDecodeStrict(eloc+"."+kind, body, &t); err != nil {
					return st, err
				}
				if _, ok := g.chains[t.Target]; !ok {
					return st, &ImportSyntaxError{Location: eloc + "." + kind, Reason: fmt.Sprintf("%s to chain %s, which table %s does not list", kind, t.Target, g.name)}
				}
				verdict, st.target = kind, t.Target
			case "counter", "log":
			default:
				s.skipWith("statement %q has no FireFlow equivalent", kind)
			}
		}
	}
	if s.thPorts {
		for _, a := range s.alts {
			if a.protos == nil || slices.ContainsFunc(a.protos, func(p firewall.Protocol) bool { return !p.HasPorts() }) {
				s.skipWith("th ports without a tcp or udp protocol match read the header of any protocol")
			}
		}
	}
	st.alts = s.alts
	return p.finishStatement(st, s, verdict), nil
}

func (p *impNftParser) finishStatement(st impStmt, s *impNftRuleState, verdict string) impStmt {
	if s.skip != "" {
		st.kind, st.reason = impSkip, s.skip
		return st
	}
	if s.states != nil {
		if impStatefulAccept(s.states, verdict == "accept", s.matches) {
			st.kind, st.reason = impIgnore, "the stateful accept of return traffic (established, related): FireFlow decides new flows, which it never matches; export with stateful=true adds it back"
		} else {
			st.kind, st.reason = impSkip, "connection-state match ("+strings.Join(s.states, ",")+"): FireFlow decides new flows only, and has no state"
		}
		return st
	}
	switch verdict {
	case "accept":
		st.kind, st.action = impVerdict, firewall.Allow
	case "drop":
		st.kind, st.action = impVerdict, firewall.Deny
	case "reject":
		st.kind, st.action = impVerdict, firewall.Reject
	case "return":
		st.kind = impReturn
	case "jump":
		st.kind = impJump
	case "goto":
		st.kind, st.reason = impSkip, "goto: the chain gone to never returns here, which a FireFlow policy cannot express"
	default:
		st.kind, st.reason = impIgnore, "no verdict: it decides nothing"
	}
	return st
}

// impNftField is what the left side of a match reads.
type impNftField uint8

const (
	impFieldSrc impNftField = iota + 1
	impFieldDst
	impFieldProto
	impFieldSport
	impFieldDport
	impFieldNFProto
	impFieldCTState
)

// impNftLeft is a decoded left side: the field, the family it pins and the
// protocols it implies.
type impNftLeft struct {
	field  impNftField
	fam    impFamily
	protos []firewall.Protocol
	th     bool
}

func (p *impNftParser) left(raw any) (impNftLeft, string) {
	obj, ok := raw.(map[string]any)
	if !ok || len(obj) != 1 {
		return impNftLeft{}, "an unknown left side"
	}
	if pl, ok := obj["payload"].(map[string]any); ok {
		proto, _ := pl["protocol"].(string)
		field, _ := pl["field"].(string)
		return impPayloadField(proto, field)
	}
	if m, ok := obj["meta"].(map[string]any); ok {
		key, _ := m["key"].(string)
		switch key {
		case "l4proto":
			return impNftLeft{field: impFieldProto, fam: impFamBoth}, ""
		case "nfproto":
			return impNftLeft{field: impFieldNFProto, fam: impFamBoth}, ""
		case "iif", "oif", "iifname", "oifname", "iiftype", "oiftype", "iifgroup", "oifgroup", "iifkind", "oifkind":
			return impNftLeft{}, "interface match (meta " + key + "): FireFlow rules match no interfaces"
		case "mark":
			return impNftLeft{}, "mark match: FireFlow has no marks"
		}
		return impNftLeft{}, "meta " + key + " has no FireFlow equivalent"
	}
	if ct, ok := obj["ct"].(map[string]any); ok {
		if key, _ := ct["key"].(string); key == "state" {
			return impNftLeft{field: impFieldCTState, fam: impFamBoth}, ""
		}
		return impNftLeft{}, "connection-tracking match: FireFlow decides new flows only, and has no state"
	}
	for k := range obj {
		return impNftLeft{}, "a match on " + k + " has no FireFlow equivalent"
	}
	return impNftLeft{}, "an unknown left side"
}

func impPayloadField(proto, field string) (impNftLeft, string) {
	switch proto + " " + field {
	case "ip saddr":
		return impNftLeft{field: impFieldSrc, fam: impFam4}, ""
	case "ip daddr":
		return impNftLeft{field: impFieldDst, fam: impFam4}, ""
	case "ip6 saddr":
		return impNftLeft{field: impFieldSrc, fam: impFam6}, ""
	case "ip6 daddr":
		return impNftLeft{field: impFieldDst, fam: impFam6}, ""
	case "ip protocol":
		return impNftLeft{field: impFieldProto, fam: impFam4}, ""
	case "ip6 nexthdr":
		// The first next header: the transport protocol of every flow
		// FireFlow models, which carry no extension headers.
		return impNftLeft{field: impFieldProto, fam: impFam6}, ""
	case "tcp sport", "tcp dport", "udp sport", "udp dport":
		l := impNftLeft{field: impFieldSport, fam: impFamBoth, protos: []firewall.Protocol{firewall.Protocol(proto)}}
		if field == "dport" {
			l.field = impFieldDport
		}
		return l, ""
	case "th sport", "th dport":
		l := impNftLeft{field: impFieldSport, fam: impFamBoth, th: true}
		if field == "dport" {
			l.field = impFieldDport
		}
		return l, ""
	}
	return impNftLeft{}, fmt.Sprintf("a match on %s %s has no FireFlow equivalent", proto, field)
}

// match reads one match expression into the rule's alternatives.
func (p *impNftParser) match(loc string, s *impNftRuleState, body json.RawMessage) error {
	var m struct {
		Op    string `json:"op"`
		Left  any    `json:"left"`
		Right any    `json:"right"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return &ImportSyntaxError{Location: loc, Reason: err.Error()}
	}
	if m.Left == nil || m.Right == nil {
		return &ImportSyntaxError{Location: loc, Reason: "a match needs left and right"}
	}
	if obj, ok := m.Left.(map[string]any); ok {
		if parts, ok := obj["concat"].([]any); ok && len(obj) == 1 {
			return p.concatMatch(loc, s, m.Op, parts, m.Right)
		}
	}
	l, why := p.left(m.Left)
	if why != "" {
		s.skipWith("%s", why)
		return nil
	}
	neg := false
	switch m.Op {
	case "==", "in", "":
	case "!=":
		neg = true
	case "<", ">", "<=", ">=":
		if l.field != impFieldSport && l.field != impFieldDport {
			s.skipWith("comparison %s on this field has no FireFlow equivalent", m.Op)
			return nil
		}
		n, err := p.number(loc+".right", m.Right)
		if err != nil {
			return err
		}
		s.and([]impMatch{impPortMatch(l, []firewall.PortRange{impCompareRange(m.Op, n)})})
		s.matches, s.thPorts = true, s.thPorts || l.th
		return nil
	default:
		s.skipWith("operator %q has no FireFlow equivalent", m.Op)
		return nil
	}
	vals, err := p.values(loc+".right", s.g, m.Right)
	if err != nil {
		return err
	}
	alt, why, err := p.fieldMatch(loc, l, vals, neg)
	if err != nil {
		return err
	}
	if why != "" {
		s.skipWith("%s", why)
		return nil
	}
	if name, ok := m.Right.(string); ok && !neg && strings.HasPrefix(name, "@") && (l.field == impFieldSrc || l.field == impFieldDst) {
		p.nameSet(s.g, &alt, l.field, name[1:])
	}
	if l.field == impFieldCTState {
		for _, v := range vals {
			str, _ := v.(string)
			s.states = append(s.states, str)
		}
		if neg {
			s.skipWith("negated connection-state match")
		}
		return nil
	}
	s.matches = true
	s.thPorts = s.thPorts || l.th
	s.and([]impMatch{alt})
	return nil
}

func impCompareRange(op string, n int) firewall.PortRange {
	n = max(0, min(n, 65536))
	switch op {
	case "<":
		return impPortRange(1, n-1)
	case "<=":
		return impPortRange(1, n)
	case ">":
		return impPortRange(n+1, 65535)
	}
	return impPortRange(n, 65535)
}

func impPortRange(lo, hi int) firewall.PortRange {
	lo, hi = max(lo, 1), min(hi, 65535)
	if lo > hi {
		return firewall.PortRange{Low: 2, High: 1} // empty; dropped by normalizing
	}
	return firewall.PortRange{Low: uint16(lo), High: uint16(hi)}
}

func impPortMatch(l impNftLeft, rs []firewall.PortRange) impMatch {
	var clean []firewall.PortRange
	for _, r := range rs {
		if r.Low <= r.High {
			clean = append(clean, r)
		}
	}
	if clean == nil {
		clean = []firewall.PortRange{}
	}
	m := impMatch{fam: impFamBoth, protos: l.protos}
	if m.protos == nil && !l.th {
		m.protos = []firewall.Protocol{firewall.TCP, firewall.UDP}
	}
	if l.field == impFieldSport {
		m.sport = impNormalizePorts(clean)
	} else {
		m.dport = impNormalizePorts(clean)
	}
	return m
}

// fieldMatch turns a field and its values into a match, or gives the
// reason it cannot be imported.
func (p *impNftParser) fieldMatch(loc string, l impNftLeft, vals []any, neg bool) (impMatch, string, error) {
	m := impMatch{fam: l.fam}
	switch l.field {
	case impFieldSrc, impFieldDst:
		var rs []impAddrRange
		for _, v := range vals {
			r, err := impAddrValue(loc, v, l.fam)
			if err != nil {
				return m, "", err
			}
			rs = append(rs, r)
		}
		ps := impRangesToPrefixes(rs)
		if neg {
			ps = impComplementPrefixes(ps, l.fam)
		}
		if l.field == impFieldSrc {
			m.src = ps
		} else {
			m.dst = ps
		}
	case impFieldSport, impFieldDport:
		var rs []firewall.PortRange
		for _, v := range vals {
			r, err := impPortValue(loc, v)
			if err != nil {
				return m, "", err
			}
			rs = append(rs, r)
		}
		pm := impPortMatch(l, rs)
		if neg {
			if pm.sport != nil {
				pm.sport = impComplementPorts(pm.sport)
			} else {
				pm.dport = impComplementPorts(pm.dport)
			}
		}
		pm.fam = l.fam
		return pm, "", nil
	case impFieldProto:
		var protos []firewall.Protocol
		for _, v := range vals {
			pr, ok := impNftProtocol(v)
			if !ok {
				return m, fmt.Sprintf("protocol %v has no FireFlow equivalent", v), nil
			}
			protos = append(protos, pr)
		}
		if neg {
			protos = impComplementProtos(protos)
		}
		m.protos = protos
	case impFieldNFProto:
		m.fam = 0
		for _, v := range vals {
			switch v {
			case "ipv4":
				m.fam |= impFam4
			case "ipv6":
				m.fam |= impFam6
			default:
				return m, fmt.Sprintf("nfproto %v has no FireFlow equivalent", v), nil
			}
		}
		if neg {
			m.fam = impFamBoth &^ m.fam
		}
	}
	return m, "", nil
}

// concatMatch expands a match on concatenated fields into one alternative
// per element: consecutive rules with one action decide as their union.
func (p *impNftParser) concatMatch(loc string, s *impNftRuleState, op string, parts []any, right any) error {
	if op != "==" && op != "in" && op != "" {
		s.skipWith("operator %q on a concatenation has no FireFlow equivalent", op)
		return nil
	}
	lefts := make([]impNftLeft, len(parts))
	for i, part := range parts {
		l, why := p.left(part)
		if why == "" && (l.field == impFieldCTState || l.field == impFieldNFProto) {
			why = "a concatenation with connection state or nfproto"
		}
		if why != "" {
			s.skipWith("%s", why)
			return nil
		}
		lefts[i] = l
	}
	vals, err := p.values(loc+".right", s.g, right)
	if err != nil {
		return err
	}
	var alts []impMatch
	for _, v := range vals {
		obj, ok := v.(map[string]any)
		elems, ok2 := obj["concat"].([]any)
		if !ok || !ok2 || len(elems) != len(lefts) {
			return &ImportSyntaxError{Location: loc + ".right", Reason: fmt.Sprintf("an element of a %d-field concatenation must be a concat of %d values", len(lefts), len(lefts))}
		}
		alt := impMatch{fam: impFamBoth}
		for i, l := range lefts {
			fm, why, err := p.fieldMatch(loc, l, []any{elems[i]}, false)
			if err != nil {
				return err
			}
			if why != "" {
				s.skipWith("%s", why)
				return nil
			}
			alt = impIntersect(alt, fm)
			s.thPorts = s.thPorts || l.th
		}
		if !alt.none() {
			alts = append(alts, alt)
		}
	}
	if alts == nil {
		alts = []impMatch{}
	}
	s.matches = true
	s.and(alts)
	return nil
}

// values flattens the right side of a match: a value, an anonymous set or
// a named set.
func (p *impNftParser) values(loc string, g *impGraph, right any) ([]any, error) {
	switch v := right.(type) {
	case string:
		if name, ok := strings.CutPrefix(v, "@"); ok {
			set, ok := p.sets[g.name+" "+name]
			if !ok {
				return nil, &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("set @%s, which table %s does not list", name, g.name)}
			}
			return impUnwrapElems(set.Elem), nil
		}
		return []any{v}, nil
	case map[string]any:
		if elems, ok := v["set"].([]any); ok {
			return impUnwrapElems(elems), nil
		}
		if elem, ok := v["set"]; ok {
			return []any{elem}, nil
		}
	case []any:
		// A list of flags or states, as ct state prints them.
		return v, nil
	}
	return []any{right}, nil
}

// impUnwrapElems turns {"elem": {"val": x, ...}} set elements into x.
func impUnwrapElems(elems []any) []any {
	out := make([]any, len(elems))
	for i, e := range elems {
		out[i] = e
		if obj, ok := e.(map[string]any); ok {
			if inner, ok := obj["elem"].(map[string]any); ok {
				out[i] = inner["val"]
			}
		}
	}
	return out
}

// number reads a JSON number or a numeral string.
func (p *impNftParser) number(loc string, v any) (int, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(x.String())
		if err == nil {
			return n, nil
		}
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n, nil
		}
	}
	return 0, &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("%v is not a number", v)}
}

func impPortValue(loc string, v any) (firewall.PortRange, error) {
	if obj, ok := v.(map[string]any); ok {
		if r, ok := obj["range"].([]any); ok && len(r) == 2 {
			lo, err1 := (&impNftParser{}).number(loc, r[0])
			hi, err2 := (&impNftParser{}).number(loc, r[1])
			if err1 != nil || err2 != nil || lo < 0 || hi > 65535 || lo > hi {
				return firewall.PortRange{}, &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("bad port range %v", r)}
			}
			return impPortRange(lo, hi), nil
		}
		return firewall.PortRange{}, &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("%v is not a port or port range", v)}
	}
	n, err := (&impNftParser{}).number(loc, v)
	if err != nil || n < 0 || n > 65535 {
		return firewall.PortRange{}, &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("%v is not a port 0-65535", v)}
	}
	return impPortRange(n, n), nil
}

// impAddrValue reads an address, a {"prefix": ...} or a {"range": [a, b]}.
func impAddrValue(loc string, v any, fam impFamily) (impAddrRange, error) {
	bad := func(why string) (impAddrRange, error) {
		return impAddrRange{}, &ImportSyntaxError{Location: loc, Reason: fmt.Sprintf("%v: %s", v, why)}
	}
	parse := func(x any) (netip.Addr, bool) {
		s, ok := x.(string)
		if !ok {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || (a.Is4() && fam != impFam4) || (!a.Is4() && fam != impFam6) {
			return netip.Addr{}, false
		}
		return a, true
	}
	switch x := v.(type) {
	case string:
		a, ok := parse(x)
		if !ok {
			return bad("not an address of family " + fam.String())
		}
		return impAddrRange{a, a}, nil
	case map[string]any:
		if pf, ok := x["prefix"].(map[string]any); ok {
			a, ok := parse(pf["addr"])
			bits, err := (&impNftParser{}).number(loc, pf["len"])
			if !ok || err != nil || bits < 0 || bits > a.BitLen() {
				return bad("not a prefix of family " + fam.String())
			}
			return impPrefixRange(netip.PrefixFrom(a, bits)), nil
		}
		if r, ok := x["range"].([]any); ok && len(r) == 2 {
			lo, ok1 := parse(r[0])
			hi, ok2 := parse(r[1])
			if !ok1 || !ok2 || lo.Compare(hi) > 0 {
				return bad("not an address range of family " + fam.String())
			}
			return impAddrRange{lo, hi}, nil
		}
	}
	return bad("not an address, prefix or range")
}

// impNftProtocol maps a protocol name or number.
func impNftProtocol(v any) (firewall.Protocol, bool) {
	s := fmt.Sprint(v)
	ps, ok := impIptProtocol(s)
	if !ok || len(ps) != 1 {
		return "", false
	}
	return ps[0], true
}

// resolve finds the start chain: "chain", "table/chain" or
// "family/table/chain"; empty means the one filter base chain on the
// forward hook.
func (p *impNftParser) resolve(chain string) ([]*impGraph, string, string, error) {
	var matches []string
	parts := strings.Split(chain, "/")
	for _, key := range p.order {
		c := p.chains[key]
		ok := false
		switch len(parts) {
		case 1:
			ok = chain == "" && c.Hook == "forward" && c.Type == "filter" || chain != "" && c.Name == chain
		case 2:
			ok = c.Table == parts[0] && c.Name == parts[1]
		case 3:
			ok = c.Family == parts[0] && c.Table == parts[1] && c.Name == parts[2]
		}
		if ok {
			matches = append(matches, key)
		}
	}
	switch {
	case len(matches) == 0 && chain == "":
		return nil, "", "", &ImportChainError{Chain: chain, Reason: "no filter base chain on the forward hook; name the chain to start from"}
	case len(matches) == 0:
		return nil, "", "", &ImportChainError{Chain: chain, Reason: "no table has this chain; give \"chain\", \"table/chain\" or \"family/table/chain\""}
	case len(matches) > 1:
		names := make([]string, len(matches))
		for i, k := range matches {
			c := p.chains[k]
			names[i] = c.Family + "/" + c.Table + "/" + c.Name
		}
		return nil, "", "", &ImportChainError{Chain: chain, Reason: "ambiguous: name one of " + strings.Join(names, ", ")}
	}
	c := p.chains[matches[0]]
	if c.Hook != "" && c.Type != "filter" {
		return nil, "", "", &ImportChainError{Chain: chain, Reason: fmt.Sprintf("a %s chain; start from a filter chain", c.Type)}
	}
	for _, g := range p.rs.graphs {
		if g.name != impTableKey(c.Family, c.Table) {
			p.rs.ignored = append(p.rs.ignored, ImportStatement{Table: g.name, Text: "table " + g.name,
				Reason: "not the table of the start chain; none of it is imported"})
		}
	}
	return []*impGraph{p.tables[impTableKey(c.Family, c.Table)]}, c.Name, c.Family + "/" + c.Table + "/" + c.Name, nil
}

// nameSet tags a match on a named set with the set's name, so that the
// rule can refer to it as an address group, and records the set's
// addresses. Two tables' sets of one name share it only if their
// addresses are the same; otherwise the later one is inlined.
func (p *impNftParser) nameSet(g *impGraph, alt *impMatch, field impNftField, name string) {
	ps := alt.src
	if field == impFieldDst {
		ps = alt.dst
	}
	if p.rs.named == nil {
		p.rs.named = map[string]impNamedSet{}
	}
	if prev, ok := p.rs.named[name]; ok && !slices.Equal(prev.ps, ps) {
		return
	} else if !ok {
		p.rs.named[name] = impNamedSet{table: g.name, ps: ps}
	}
	if field == impFieldSrc {
		alt.srcSet = name
	} else {
		alt.dstSet = name
	}
}
