// Package export renders a firewall tree as a ruleset Linux loads:
// nftables (`nft -f`) or iptables-restore / ip6tables-restore input. It is
// pure Go and imports only the domain.
//
// The rendering keeps DESIGN §2's semantics exactly: policies in priority
// order, rules in position order (ties broken by id, as the engine does),
// first match wins, an empty list means any, ports match only tcp and udp,
// and an address family never matches across. A rule whose lists leave no
// flow of a family (say IPv4-only sources in ip6tables) is left out of that
// family's output with a comment, never rendered without the match. icmp
// is IPv4's protocol and icmpv6 IPv6's: an icmp rule with IPv6 addresses
// matches no flow, as no real packet can be such a flow.
//
// Comments carry identities in fixed forms that an importer can read back:
// a rule statement carries `rule <id> <name>` and a jump into a policy
// chain `policy <id> <name>` (names sanitised and possibly truncated to fit
// the tools' comment limits).
//
// In iptables, a rule becomes the cross product of its lists (addresses,
// source and destination port chunks of at most 15 ports for multiport),
// every line carrying the rule's comment. When that would exceed 1024
// lines, the lists are chained instead: user chains named ff-r<n>-<level>,
// entered by jumps that carry the rule's comment, hold one list each.
// Restoring the output replaces the family's whole filter table.
//
// Anything that cannot be rendered faithfully fails the whole export with
// an *Error listing every rule and why; nothing is dropped silently.
//
// # Import
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
