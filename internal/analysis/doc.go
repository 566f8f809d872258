// Package analysis reasons exactly over the whole header space of a
// firewall: what is wrong with it (findings), whether a kind of traffic
// gets a given decision (search), and what changes between two trees
// (compare). It is pure Go, imports only the domain and the engine, and
// never samples: every answer holds for every flow, and every example flow
// it gives is decided by the engine as claimed.
//
// # The header space
//
// A flow is a packet that can exist: IPv4 or IPv6 (both addresses of the
// same family); tcp or udp with source and destination ports 1–65535 (the
// ports the domain and the API can name), icmp with IPv4 only, icmpv6 with
// IPv6 only, without ports. This splits the space into six classes
// (family × protocol); within a class every dimension (source address,
// destination address, source port, destination port) is an integer range,
// of 32 or 128 bits for addresses. Rules are read as DESIGN §2 and the
// engine read them, expiry judged at a given instant: a rule matches the
// cross product of the union of its sources, of its destinations and of
// its port lists (an empty list is any); "any" matches every protocol, a
// port list only tcp and udp.
//
// # Representation
//
// Within a class a rule's match set is a cross product of one sorted union
// of intervals per dimension (a "shape"). The analysis walks first-match
// partitions: starting from a box, it takes the first item in evaluation
// order (rule, terminal policy default, firewall default) that meets the
// box; if the item covers the box, the box is a piece decided by it;
// otherwise the box is cut in two at a boundary of the item inside it (or,
// while many items meet it, where the cut splits them most evenly), and
// each half is walked with exactly the items that meet it.
//
// The partition of the whole space is never built: for rule bases shaped
// like real ones it has hundreds of pieces a rule (sources that are any
// crossed with destinations that are any make a grid), which no box or
// cube representation escapes. Each rule is instead walked only within
// its own match set, with the earlier items that overlap it, found by an
// index over the rules' prefixes (they nest or are disjoint, so a lookup
// is a chain of parents and a range of starts). Reachability stops at the
// first piece the rule decides; redundancy walks those pieces again with
// the later items, and stops at the first that acts differently.
//
// Most unreachable rules of a large rule base are held whole by one
// earlier item (a broader rule, a catch-all, a default). The chains of
// parents alone find the first such item, without the range scans. A held
// rule decides no flow, so when many rules of a class are held the others
// are indexed apart and the walks see only them: leaving out an item that
// never decides changes no decision. (The walk that asks what would take
// a rule's flows without it adds back the rules it alone holds first.)
// The items that take a held rule's flows are found by walking its match
// set with the items up to its holder only; rules of one shape share that
// walk, and a walk that only collects deciders skips every box whose
// items it has all seen decide already.
//
// Before a rule no item holds is walked, a few points of its match set
// are probed, each decided from the items that hold it as the engine
// would: a point the rule decides shows it reachable (and is its example),
// and one whose next decider acts differently shows it is not redundant.
// Probes only ever prove; the rules they do not settle (unreachable ones,
// redundant ones, and those that decide only a sliver of their match set)
// are walked as above.
//
// We chose boxes over a BDD library (such as rudd): a BDD over the 290
// header bits is exact too, but its "everything decided so far" set grows
// with every distinct prefix pair and each rule costs operations on it,
// while the walk works on the few integers a rule names, costs what the
// rule's overlaps cost, and needs no dependency. Every piece is a box, so
// an example flow is its lowest corner (with an ephemeral source port when
// the box allows one), unless a probe found it.
//
// # Cost
//
// On fwgen.Realistic, CPU time on one core of a heavily shared machine
// (which inflates it by up to half): the full analysis takes about 0.05 s
// at 1,000 rules and 0.6–0.75 s at 10,000; a search well under a
// millisecond at 10,000 rules; a compare of two 10,000-rule trees
// differing in one rule about 0.1 s, compiling both included. The full
// analysis of 100,000 rules took 20–28 s and about 450 MB at peak (before
// held rules were left out of the walks and rules probed, 41 s and
// 780 MB): that rule base repeats a small pool of address objects, so
// most rules overlap hundreds or thousands of others, and the cost left
// is finding those overlaps through the index and walking the rules
// probes do not settle, and the held ones' match sets up to their
// holders, against them. See BenchmarkFindings.
//
// # What is derived from the walk
//
//   - a rule is reachable when it decides some piece (or probed point);
//     that gives the example flow;
//   - a reachable rule is redundant when, walking each of its pieces again
//     with only the items after it, every piece gets the same action;
//   - a policy is unreachable when an earlier policy has a terminal default,
//     or when a walk of the whole space with the items before it finds no
//     piece they leave undecided;
//   - an unreachable rule is covered by the deciders of the pieces of its
//     match set: exactly the earlier rules and defaults that take its
//     flows, so a rule hidden by the union of two rules names both;
//   - a conflict is a pair of reachable rules with different actions whose
//     match sets overlap, neither containing the other;
//   - search takes, in evaluation order, each item that makes the decision
//     asked for, and walks its match set within the space (or outside it)
//     with the earlier items, stopping at the first piece it decides; when
//     no item has one, no flow of the space gets that decision;
//   - compare walks the pieces of one tree again with the items of the
//     other, within the part of the space the two trees' differing items
//     match.
package analysis
