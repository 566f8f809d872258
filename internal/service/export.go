package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/firewall"
)

// ParseExportOptions reads the export options in their text form ("" for
// the defaults), as a query string or the command line gives them. Bad
// options are a firewall.CodeInvalid error naming each option.
func ParseExportOptions(format, hook, stateful, merge string) (export.Options, error) {
	return export.ParseOptions(format, hook, stateful, merge)
}

// ParseExportIPSet reads the ipset option ("" for false) into opt, which
// must hold the format already. Bad values are a firewall.CodeInvalid
// error naming ipset.
func ParseExportIPSet(opt *export.Options, ipset string) error {
	return export.ParseIPSet(opt, ipset)
}

// Export renders the firewall's current tree as a ruleset, with expiry
// judged at the service's clock, and returns it with the revision it was
// rendered from. A tree that cannot be rendered faithfully is a
// firewall.CodeUnprocessable error listing every rule and why.
func (s *Service) Export(ctx context.Context, firewallID string, opt export.Options) (*export.Result, int64, error) {
	tree, err := s.store.LoadTree(ctx, firewallID)
	if err != nil {
		return nil, 0, fmt.Errorf("export firewall %s: %w", firewallID, err)
	}
	t := engineTree(tree)
	opt.Now = s.now()
	res, err := export.Render(&t, opt)
	var xe *export.Error
	if errors.As(err, &xe) {
		return nil, 0, unexportable(xe)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("export firewall %s at revision %d: %w", firewallID, t.Firewall.Revision, err)
	}
	return res, t.Firewall.Revision, nil
}

// unexportable turns the renderer's list of problems into a domain error,
// one problem per rule and field, located in the tree as
// "tree.policies[<id>].rules[<id>].<field>".
func unexportable(xe *export.Error) error {
	ps := make(firewall.Problems, 0, len(xe.Problems))
	for _, p := range xe.Problems {
		loc := []string{"tree"}
		if p.PolicyID != "" {
			loc = append(loc, "policies["+p.PolicyID+"]")
		}
		if p.RuleID != "" {
			loc = append(loc, "rules["+p.RuleID+"]")
		}
		if p.Field != "" {
			loc = append(loc, p.Field)
		}
		ps = append(ps, firewall.Problem{Location: strings.Join(loc, "."), Message: p.Reason})
	}
	return &firewall.Error{Code: firewall.CodeUnprocessable, Err: xe, Problems: ps,
		Message: fmt.Sprintf("the firewall cannot be exported faithfully as %s: %d problem(s)", xe.Format, len(xe.Problems))}
}
