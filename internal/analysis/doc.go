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
// of intervals per dimension (a "shape"). The analysis walks the first-match
// partition of each class: starting from the whole class, it takes the
// first item in evaluation order (rule, terminal policy default, firewall
// default) that meets the current box; if the item covers the box, the box
// is a piece decided by it; otherwise the box is cut in two at a boundary
// of the item inside it, and each half is walked with the items that still
// meet it. Cutting at the boundaries of the deciding items, not at fixed
// points, keeps the pieces as few as the decisions need, and each half
// carries only the items that meet it, so the walk costs about the size of
// the partition times the items near each piece, not rules squared.
//
// We chose this over a BDD library (such as rudd): a BDD over 290 header
// bits is exact too, but its "everything decided so far" set grows with
// every distinct prefix pair and each rule costs operations on it, while
// the walk works on the few integers a rule names and needs no dependency.
// Interval unions are also what people read back: every piece is a box, so
// an example flow is its lowest corner (with an ephemeral source port when
// the box allows one).
//
// # What is derived from the walk
//
//   - a rule is reachable when it decides some piece; the piece gives the
//     example flow;
//   - a reachable rule is redundant when, walking each of its pieces again
//     with only the items after it, every piece gets the same action;
//   - a policy is unreachable when no piece is decided by an item at or
//     after it;
//   - an unreachable rule is covered by the deciders of the pieces it meets
//     (a second walk): exactly the earlier rules and defaults that take its
//     flows, so a rule hidden by the union of two rules names both;
//   - a conflict is a pair of rules with different actions where the first
//     decides flows the second also matches, and neither contains the
//     other: their order matters;
//   - search walks the part of the space inside (or outside) the header
//     space asked for, stopping at the first piece with the decision asked
//     for;
//   - compare walks the pieces of one tree again with the items of the
//     other, within the part of the space the two trees' differing items
//     match.
package analysis
