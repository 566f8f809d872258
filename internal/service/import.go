package service

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ImportRequest asks to read a ruleset into a firewall.
type ImportRequest struct {
	// Format is iptables, ip6tables or nftables.
	Format string
	// Chain is the chain to start from; empty picks the usual one.
	Chain string
	// Input is iptables-save text or `nft -j list ruleset` JSON.
	Input []byte
	// Apply creates the policies and rules; without it the import is a dry run.
	Apply bool
	// Partial lets Apply go ahead when some statements cannot be imported.
	Partial bool
	// Groups says what to do with nftables named sets whose name an
	// address group with other members has; "" is ImportGroupsFail.
	Groups ImportGroupsMode
}

// ImportResult is what an import creates, or would create.
type ImportResult struct {
	Applied bool
	// Revision is the firewall's revision after the import, or the current
	// one for a dry run.
	Revision   int64
	StartChain string
	// DefaultAction is the firewall default the import sets, "" if it
	// leaves it alone.
	DefaultAction firewall.Action
	Policies      []ImportedPolicy
	Rules         int
	Skipped       []ImportStatement
	Ignored       []ImportStatement
	// Groups are the address groups made of nftables named sets, in order
	// of first use, created or reused.
	Groups []ImportedGroup
	// sets are the importer's groups, named as the sets.
	sets []firewall.AddressGroup
}

// ImportedPolicy is a policy with its rules; ids are set once applied.
type ImportedPolicy struct {
	Policy firewall.Policy
	Rules  []firewall.Rule
}

// ImportStatement is a statement of the input that was not imported.
type ImportStatement struct {
	Line   int
	Handle int64
	Table  string
	Chain  string
	Text   string
	Reason string
}

// Import reads a ruleset into a firewall that has no policies yet: an
// imported ruleset is a whole firewall, whose base chain policy becomes
// the firewall default. A dry run checks the same and writes nothing;
// Apply creates every policy and rule in one transaction, with an audit
// event for each.
func (s *Service) Import(ctx context.Context, firewallID string, req ImportRequest) (ImportResult, error) {
	switch export.ImportFormat(req.Format) {
	case export.ImportIPTables, export.ImportIP6Tables, export.ImportNFTables:
	default:
		var ps firewall.Problems
		ps.Add("format", req.Format, "format must be one of iptables, ip6tables, nftables")
		return ImportResult{}, ps.Err("the import is not valid")
	}
	mode, err := checkImportGroupsMode(req.Groups)
	if err != nil {
		return ImportResult{}, err
	}
	parsed, err := export.Import(export.ImportFormat(req.Format), req.Input,
		export.ImportOptions{Chain: req.Chain, Groups: mode != ImportGroupsInline})
	if err != nil {
		return ImportResult{}, importInputError(err)
	}
	out := importResultOf(parsed)
	if err := checkImportable(out); err != nil {
		return ImportResult{}, err
	}
	if !req.Apply {
		fw, err := s.store.GetFirewall(ctx, firewallID)
		if err != nil {
			return ImportResult{}, fmt.Errorf("import into firewall %s: %w", firewallID, err)
		}
		if err := s.checkEmpty(ctx, s.store, firewallID); err != nil {
			return ImportResult{}, err
		}
		if out.Groups, err = planImportGroups(ctx, s.store, out.sets, mode); err != nil {
			return ImportResult{}, fmt.Errorf("import into firewall %s: %w", firewallID, err)
		}
		if err := bindImportRefs(out.Policies, plannedRefs(out.Groups)); err != nil {
			return ImportResult{}, err
		}
		out.Revision = fw.Revision
		return out, nil
	}
	if len(out.Skipped) > 0 && !req.Partial {
		var ps firewall.Problems
		ps.Add("partial", false, "%d statements cannot be imported faithfully (see skipped in a dry run); pass partial=true to import the rest", len(out.Skipped))
		return ImportResult{}, ps.Err("the import would change what the firewall decides")
	}
	err = s.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		applied := out
		applied.Policies = cloneImported(out.Policies)
		if err := s.applyImport(ctx, tx, firewallID, mode, &applied); err != nil {
			return err
		}
		out = applied
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import into firewall %s: %w", firewallID, err)
	}
	out.Applied = true
	return out, nil
}

// checkImportable validates what the importer made, so that a bug there
// answers an error, never a partial write, and refuses addresses the
// store could not read back.
func checkImportable(r ImportResult) error {
	if err := checkStorableAddresses(r); err != nil {
		return err
	}
	for _, p := range r.Policies {
		if err := p.Policy.Validate(); err != nil {
			return fmt.Errorf("imported policy %q: %w", p.Policy.Name, err)
		}
		for _, rule := range p.Rules {
			if err := rule.Validate(); err != nil {
				return fmt.Errorf("imported rule %d of policy %q: %w", rule.Position, p.Policy.Name, err)
			}
		}
	}
	return nil
}

type policyLister interface {
	ListPolicies(ctx context.Context, firewallID string, q firewall.Query) (firewall.Page[firewall.Policy], error)
}

func (s *Service) checkEmpty(ctx context.Context, r policyLister, firewallID string) error {
	page, err := r.ListPolicies(ctx, firewallID, firewall.Query{PageSize: 1})
	if err != nil {
		return err
	}
	if len(page.Items) > 0 {
		return firewall.Conflict("firewall %s already has filtering policies; an import makes a whole firewall: import into a new firewall, or delete its policies first", firewallID)
	}
	return nil
}

// applyImport writes the import in tx, filling in ids and the revision.
func (s *Service) applyImport(ctx context.Context, tx store.Tx, firewallID string, mode ImportGroupsMode, out *ImportResult) error {
	cur, err := tx.LockFirewall(ctx, firewallID)
	if err != nil {
		return err
	}
	if err := s.checkEmpty(ctx, tx, firewallID); err != nil {
		return err
	}
	if out.Groups, err = planImportGroups(ctx, tx, out.sets, mode); err != nil {
		return err
	}
	refs, err := s.createImportGroups(ctx, tx, out.Groups)
	if err != nil {
		return err
	}
	if err := bindImportRefs(out.Policies, refs); err != nil {
		return err
	}
	if out.DefaultAction != "" && out.DefaultAction != cur.DefaultAction {
		next := cur
		next.DefaultAction = out.DefaultAction
		s.stamp(&next.Meta)
		if err := tx.UpdateFirewall(ctx, &next); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditUpdate, firewall.KindFirewall, firewallID, firewallID, cur, next}); err != nil {
			return err
		}
	}
	for i := range out.Policies {
		ip := &out.Policies[i]
		p := ip.Policy
		p.Meta, p.FirewallID = firewall.Meta{}, firewallID
		s.stamp(&p.Meta)
		if err := tx.CreatePolicy(ctx, &p); err != nil {
			return fmt.Errorf("create policy %q: %w", p.Name, err)
		}
		if err := s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindPolicy, p.ID, firewallID, nil, p}); err != nil {
			return err
		}
		ip.Policy = p
		for j := range ip.Rules {
			r := ip.Rules[j]
			r.Meta, r.FirewallID, r.PolicyID, r.Position = firewall.Meta{}, firewallID, p.ID, j+1
			s.stamp(&r.Meta)
			if err := tx.CreateRule(ctx, &r); err != nil {
				return fmt.Errorf("create rule %d of policy %q: %w", j+1, p.Name, err)
			}
			if err := s.audit(ctx, tx, auditEntry{firewall.AuditCreate, firewall.KindRule, r.ID, firewallID, nil, r}); err != nil {
				return err
			}
			ip.Rules[j] = r
		}
	}
	var m firewall.Meta
	s.stamp(&m)
	rev, err := tx.BumpRevision(ctx, firewallID, m.ETag, m.UpdatedAt)
	if err != nil {
		return fmt.Errorf("bump revision of firewall %s: %w", firewallID, err)
	}
	out.Revision = rev
	return nil
}

func cloneImported(ps []ImportedPolicy) []ImportedPolicy {
	out := make([]ImportedPolicy, len(ps))
	for i, p := range ps {
		rules := make([]firewall.Rule, len(p.Rules))
		for j, r := range p.Rules {
			r.SourceGroups, r.DestinationGroups = slices.Clone(r.SourceGroups), slices.Clone(r.DestinationGroups)
			rules[j] = r
		}
		out[i] = ImportedPolicy{Policy: p.Policy, Rules: rules}
	}
	return out
}

func importResultOf(r *export.ImportResult) ImportResult {
	out := ImportResult{StartChain: r.StartChain, DefaultAction: r.DefaultAction, Rules: r.Rules, sets: r.Groups}
	for _, p := range r.Policies {
		out.Policies = append(out.Policies, ImportedPolicy{Policy: p.Policy, Rules: p.Rules})
	}
	out.Skipped = importStatements(r.Skipped)
	out.Ignored = importStatements(r.Ignored)
	return out
}

func importStatements(in []export.ImportStatement) []ImportStatement {
	out := make([]ImportStatement, len(in))
	for i, s := range in {
		out[i] = ImportStatement{Line: s.Line, Handle: s.Handle, Table: s.Table, Chain: s.Chain, Text: s.Text, Reason: s.Reason}
	}
	return out
}

// importInputError names what is wrong with the input: the body (with its
// line or JSON location), the chain or the format.
func importInputError(err error) error {
	var ps firewall.Problems
	var syn *export.ImportSyntaxError
	var chain *export.ImportChainError
	switch {
	case errors.As(err, &chain):
		ps.Add("chain", chain.Chain, "%s", chain.Reason)
	case errors.As(err, &syn) && syn.Line > 0:
		ps.Add("", syn.Line, "line %d: %s", syn.Line, syn.Reason)
	case errors.As(err, &syn) && syn.Location != "":
		ps.Add("", syn.Location, "%s: %s", syn.Location, syn.Reason)
	default:
		ps.Add("", nil, "%s", err)
	}
	return ps.Err("the ruleset cannot be imported")
}

// checkStorableAddresses refuses the import when a rule or a set holds an
// address the domain does not accept as input, such as an IPv4-mapped
// IPv6 address (::ffff:10.0.0.1): stored, it could not be read back, and
// the whole firewall would fail to load.
func checkStorableAddresses(r ImportResult) error {
	var ps firewall.Problems
	check := func(what string, list []netip.Prefix) {
		for _, p := range list {
			if _, err := firewall.ParsePrefix(p.String()); err != nil {
				ps.Add("", p.String(), "%s: %v; FireFlow cannot hold it, so the import is refused (change the statement, or leave it out of the ruleset)", what, err)
				return
			}
		}
	}
	for _, p := range r.Policies {
		for _, rule := range p.Rules {
			what := fmt.Sprintf("rule %d of policy %q (%s)", rule.Position, p.Policy.Name, rule.Description)
			check(what, rule.Sources)
			check(what, rule.Destinations)
		}
	}
	for _, g := range r.sets {
		check(fmt.Sprintf("set @%s", g.Name), g.Addresses)
	}
	return ps.Err("the ruleset holds addresses FireFlow cannot hold")
}
