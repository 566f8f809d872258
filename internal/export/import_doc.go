// This file documents the import half of the package; the package comment
// is in doc.go. (A section to move there: "# Import".)
//
// Import reads a ruleset and starts from one chain. Chains that this chain
// jumps to unconditionally become filtering policies, in jump order; the
// start chain's own statements between such jumps become policies named
// after it; conditional jumps are inlined by intersecting the jump's match
// with each statement of the chain jumped to. A base chain's policy becomes
// the firewall default, a policy chain's final unconditional accept or drop
// its default, and a RETURN or falling off its end `next`.
//
// Nothing is guessed. A statement that cannot be expressed exactly in
// FireFlow's model (interfaces, marks, NAT, goto, unknown matches or
// targets, a RETURN that depends on a match before other statements, ...)
// is listed in Result.Skipped with its line or handle and the reason, and
// the rest is imported as if it were absent. Statements that cannot change
// the decision for a new flow (counters, logging, the established/related
// accept a stateful export adds, tables and chains the start chain never
// reaches) are listed in Result.Ignored. Structural errors (input neither
// tool would print) are a *SyntaxError naming the line and the reason.
//
// FireFlow's rules carry no family of their own, so a rule read from a
// one-family ruleset (iptables-save, ip6tables-save, an ip or ip6 table) is
// pinned to its family: without an address of that family, it gets the
// whole family (0.0.0.0/0 or ::/0) as its sources.

package export
