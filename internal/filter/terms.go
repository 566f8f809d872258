package filter

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.einride.tech/aip/filtering"
	expr "google.golang.org/genproto/googleapis/api/expr/v1alpha1"

	"github.com/fireflow/fireflow/internal/firewall"
)

// checker walks a parsed filter, checks every term against the resource's
// fields, and returns the condition that emits its SQL (conditions.go has
// the emitters). Each error names the position of the term at fault.
type checker struct {
	res       *Resource
	text      string
	lead      int
	positions map[int64]int32
	depth     int
	terms     int
}

func (c *checker) fail(e *expr.Expr, format string, args ...any) error {
	offset := -1
	if pos, ok := c.positions[e.GetId()]; ok {
		offset = c.lead + int(pos)
	}
	return problem("filter", c.text, offset, format, args...)
}

// boolExpr checks an expression that must be true or false.
func (c *checker) boolExpr(e *expr.Expr) (cond, error) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > MaxFilterDepth {
		return nil, c.fail(e, "the filter nests deeper than %d levels", MaxFilterDepth)
	}
	if !isConnective(e) {
		if c.terms++; c.terms > MaxFilterTerms {
			return nil, c.fail(e, "the filter has more than %d terms", MaxFilterTerms)
		}
	}
	switch k := e.GetExprKind().(type) {
	case *expr.Expr_CallExpr:
		return c.call(e, k.CallExpr)
	case *expr.Expr_IdentExpr:
		f, ok := c.res.Field(k.IdentExpr.GetName())
		if ok && f.Kind == KindBool {
			col := f.Column
			return func(b *Builder) string { return col + " = " + b.Arg(true) }, nil
		}
		if ok {
			return nil, c.fail(e, "expected a comparison such as %s = ..., found the %s field %s alone", f.Name, f.Kind, f.Name)
		}
		return nil, c.fail(e, "expected a comparison, found %q; free-text search is not supported, and %s", k.IdentExpr.GetName(), c.known())
	case *expr.Expr_SelectExpr:
		return nil, c.fail(e, "expected a comparison such as %s = \"...\"", selectPath(e))
	default:
		return nil, c.fail(e, "expected a comparison, found a bare value; free-text search is not supported")
	}
}

// isConnective reports whether e joins terms (AND, OR, NOT) rather than
// being one.
func isConnective(e *expr.Expr) bool {
	switch e.GetCallExpr().GetFunction() {
	case filtering.FunctionAnd, filtering.FunctionFuzzyAnd, filtering.FunctionOr, filtering.FunctionNot:
		return true
	}
	return false
}

// chain returns the operands of a chain of ANDs (or of ORs) in order,
// without recursion, so that a long flat chain counts as one level.
func (c *checker) chain(e *expr.Expr, or bool) ([]*expr.Expr, error) {
	same := func(x *expr.Expr) bool {
		fn := x.GetCallExpr().GetFunction()
		if or {
			return fn == filtering.FunctionOr
		}
		return fn == filtering.FunctionAnd || fn == filtering.FunctionFuzzyAnd
	}
	var out []*expr.Expr
	stack := []*expr.Expr{e}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !same(x) {
			out = append(out, x)
			continue
		}
		args := x.GetCallExpr().GetArgs()
		if len(args) != 2 {
			return nil, c.fail(x, "%s needs two operands", x.GetCallExpr().GetFunction())
		}
		stack = append(stack, args[1], args[0])
	}
	return out, nil
}

func (c *checker) known() string {
	return c.res.Name + " have the fields " + strings.Join(c.res.FieldNames(), ", ")
}

func (c *checker) call(e *expr.Expr, call *expr.Expr_Call) (cond, error) {
	args := call.GetArgs()
	switch fn := call.GetFunction(); fn {
	case filtering.FunctionAnd, filtering.FunctionFuzzyAnd, filtering.FunctionOr:
		operands, err := c.chain(e, fn == filtering.FunctionOr)
		if err != nil {
			return nil, err
		}
		conds := make([]cond, len(operands))
		for i, o := range operands {
			if conds[i], err = c.boolExpr(o); err != nil {
				return nil, err
			}
		}
		op := " AND "
		if fn == filtering.FunctionOr {
			op = " OR "
		}
		return func(b *Builder) string {
			parts := make([]string, len(conds))
			for i, cd := range conds {
				parts[i] = cd(b)
			}
			return "(" + strings.Join(parts, op) + ")"
		}, nil
	case filtering.FunctionNot:
		if len(args) != 1 {
			return nil, c.fail(e, "NOT needs one operand")
		}
		inner, err := c.boolExpr(args[0])
		if err != nil {
			return nil, err
		}
		return func(b *Builder) string { return "NOT (" + inner(b) + ")" }, nil
	case filtering.FunctionEquals, filtering.FunctionNotEquals, filtering.FunctionLessThan, filtering.FunctionLessEquals,
		filtering.FunctionGreaterThan, filtering.FunctionGreaterEquals, filtering.FunctionHas:
		if len(args) != 2 {
			return nil, c.fail(e, "%s needs a field on the left and a value on the right", fn)
		}
		return c.comparison(e, fn, args[0], args[1])
	}
	if fn, ok := networkFunction(call.GetFunction()); ok && c.res.Network {
		return c.network(e, fn, args)
	}
	funcs := "none"
	if c.res.Network {
		funcs = networkFunctionNames()
	}
	return nil, c.fail(e, "unknown function %q; %s accept the functions %s", call.GetFunction(), c.res.Name, funcs)
}

// comparison checks "field op value".
func (c *checker) comparison(e *expr.Expr, op string, lhs, rhs *expr.Expr) (cond, error) {
	if sel := lhs.GetSelectExpr(); sel != nil {
		return c.labelComparison(lhs, op, rhs)
	}
	ident := lhs.GetIdentExpr()
	if ident == nil {
		return nil, c.fail(lhs, "expected a field name on the left of %s; %s", op, c.known())
	}
	f, ok := c.res.Field(ident.GetName())
	if !ok {
		return nil, c.fail(lhs, "unknown field %q; %s", ident.GetName(), c.known())
	}
	if op == filtering.FunctionHas {
		return c.has(f, rhs)
	}
	switch f.Kind {
	case KindLabels:
		return nil, c.fail(lhs, "labels is a map: compare one label, as in labels.env = \"prod\", or test a key with labels:\"env\"")
	case KindPrefixes, KindPorts, KindStrings, KindGroups:
		return nil, c.fail(lhs, "%s is a list: test an entry with %s:\"...\"", f.Name, f.Name)
	}
	if isOrdering(op) && (f.Kind == KindEnum || f.Kind == KindBool) {
		return nil, c.fail(e, "%s is a %s; it compares only with = and !=", f.Name, f.Kind)
	}
	v, err := c.value(f, rhs, op)
	if err != nil {
		return nil, err
	}
	if f.Rank != nil {
		return rankCompare(f, op, v.(int64)), nil
	}
	return compare(f.Column, f.Kind, f.Nullable, op, v), nil
}

func isOrdering(op string) bool {
	switch op {
	case filtering.FunctionLessThan, filtering.FunctionLessEquals, filtering.FunctionGreaterThan, filtering.FunctionGreaterEquals:
		return true
	}
	return false
}

// value checks a right-hand side against a field's kind and returns it as
// it is bound.
func (c *checker) value(f *Field, rhs *expr.Expr, op string) (any, error) {
	switch f.Kind {
	case KindInt:
		n, ok := intConst(rhs)
		if !ok {
			return nil, c.fail(rhs, "%s is an integer; expected a number such as %s %s 100", f.Name, f.Name, op)
		}
		return n, nil
	case KindBool:
		if id := rhs.GetIdentExpr(); id != nil && (id.GetName() == "true" || id.GetName() == "false") {
			return id.GetName() == "true", nil
		}
		return nil, c.fail(rhs, "%s is a boolean; expected true or false", f.Name)
	case KindTime:
		s, ok := stringConst(rhs)
		if !ok {
			return nil, c.fail(rhs, "%s is a timestamp; expected a quoted RFC 3339 time such as \"2026-01-01T00:00:00Z\"", f.Name)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, c.fail(rhs, "%q is not an RFC 3339 time; expected a time such as \"2026-01-01T00:00:00Z\"", s)
		}
		return t.UTC(), nil
	case KindEnum:
		s, ok := stringConst(rhs)
		if !ok {
			if id := rhs.GetIdentExpr(); id != nil {
				s, ok = id.GetName(), true
			}
		}
		if !ok || !contains(f.Values, s) {
			return nil, c.fail(rhs, "%s is one of %s; found %s", f.Name, strings.Join(f.Values, ", "), describe(rhs))
		}
		return s, nil
	default: // KindString
		s, ok := stringConst(rhs)
		if !ok {
			return nil, c.fail(rhs, "%s is a string; expected a quoted value such as \"edge-*\", found %s", f.Name, describe(rhs))
		}
		return s, nil
	}
}

// has checks "field:value": an entry of a list, a key of a map, a
// substring of a string, or presence with *.
func (c *checker) has(f *Field, rhs *expr.Expr) (cond, error) {
	s, isString := stringConst(rhs)
	if f.Kind == KindPorts {
		if n, ok := intConst(rhs); ok {
			s, isString = fmt.Sprint(n), true
		}
	}
	if !isString {
		return nil, c.fail(rhs, "expected a quoted value after %s:, found %s", f.Name, describe(rhs))
	}
	if s == "*" {
		return present(f), nil
	}
	switch f.Kind {
	case KindString:
		col := f.Column
		return func(b *Builder) string { return b.containsMatch(col, s) }, nil
	case KindLabels:
		col := f.Column
		return func(b *Builder) string { return b.labelHasKey(col, s) }, nil
	case KindStrings:
		col := f.Column
		return func(b *Builder) string { return b.jsonArrayHas(col, s) }, nil
	case KindPrefixes:
		r, err := parseRange(s, false)
		if err != nil {
			return nil, c.fail(rhs, "%s; expected a CIDR such as \"10.0.0.0/8\"", err)
		}
		return r.hasEntry(f.Side), nil
	case KindGroups:
		return groupEntry(f.Side, s), nil
	case KindPorts:
		p, err := firewall.ParsePortRange(s)
		if err != nil {
			return nil, c.fail(rhs, "%s; expected a port such as \"443\" or a range such as \"1024-65535\"", err)
		}
		return portEntry(p, f.Side), nil
	}
	return nil, c.fail(rhs, "%s is a %s; the : operator applies to strings, lists and maps, or tests presence with *", f.Name, f.Kind)
}

// labelComparison checks "labels.key op value" and "labels.key:*".
func (c *checker) labelComparison(lhs *expr.Expr, op string, rhs *expr.Expr) (cond, error) {
	sel := lhs.GetSelectExpr()
	base := sel.GetOperand().GetIdentExpr()
	if base == nil {
		return nil, c.fail(lhs, "unknown field %q; only labels has keys, as in labels.env", selectPath(lhs))
	}
	f, ok := c.res.Field(base.GetName())
	if !ok || f.Kind != KindLabels {
		return nil, c.fail(lhs, "unknown field %q; only labels has keys, as in labels.env; %s", selectPath(lhs), c.known())
	}
	key, col := sel.GetField(), f.Column
	s, isString := stringConst(rhs)
	if !isString {
		return nil, c.fail(rhs, "label values are strings; expected a quoted value, found %s", describe(rhs))
	}
	switch op {
	case filtering.FunctionHas:
		if s == "*" {
			return func(b *Builder) string { return b.labelHasKey(col, key) }, nil
		}
		return func(b *Builder) string {
			return b.labelMatch(col, key, func(v string) string { return b.containsMatch(v, s) })
		}, nil
	case filtering.FunctionEquals, filtering.FunctionNotEquals:
		eq := func(b *Builder) string {
			return b.labelMatch(col, key, func(v string) string { return stringMatch(b, v, s) })
		}
		if op == filtering.FunctionNotEquals {
			return func(b *Builder) string { return "NOT (" + eq(b) + ")" }, nil
		}
		return eq, nil
	}
	return nil, c.fail(lhs, "labels compare only with =, != and :")
}

func selectPath(e *expr.Expr) string {
	if sel := e.GetSelectExpr(); sel != nil {
		return selectPath(sel.GetOperand()) + "." + sel.GetField()
	}
	if id := e.GetIdentExpr(); id != nil {
		return id.GetName()
	}
	return "?"
}

func stringConst(e *expr.Expr) (string, bool) {
	k, ok := e.GetConstExpr().GetConstantKind().(*expr.Constant_StringValue)
	if !ok {
		return "", false
	}
	return k.StringValue, true
}

func intConst(e *expr.Expr) (int64, bool) {
	k, ok := e.GetConstExpr().GetConstantKind().(*expr.Constant_Int64Value)
	if !ok {
		return 0, false
	}
	return k.Int64Value, true
}

// describe names what the user wrote, for messages.
func describe(e *expr.Expr) string {
	switch k := e.GetExprKind().(type) {
	case *expr.Expr_IdentExpr:
		return fmt.Sprintf("the bare word %q (quote string values)", k.IdentExpr.GetName())
	case *expr.Expr_ConstExpr:
		switch v := k.ConstExpr.GetConstantKind().(type) {
		case *expr.Constant_Int64Value:
			return fmt.Sprintf("the number %d", v.Int64Value)
		case *expr.Constant_DoubleValue:
			if math.IsInf(v.DoubleValue, 0) || math.IsNaN(v.DoubleValue) {
				return "a number out of range"
			}
			return fmt.Sprintf("the number %g", v.DoubleValue)
		case *expr.Constant_StringValue:
			return fmt.Sprintf("the string %q", echo(v.StringValue))
		}
	case *expr.Expr_CallExpr:
		return "an expression"
	case *expr.Expr_SelectExpr:
		return fmt.Sprintf("the name %s", selectPath(e))
	}
	return "something else"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
