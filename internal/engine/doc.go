// Package engine compiles a firewall tree (a firewall, its filtering
// policies and their rules) into an immutable Matcher, and decides flows
// with it. It is pure Go and does no I/O; it imports only the domain
// package.
//
// # Semantics
//
// DESIGN §2, "Evaluation of a flow": enabled policies in ascending priority
// (ties broken by id), within each its enabled, unexpired rules in
// ascending position (ties broken by id); the first rule that matches on
// every field decides with its action; a policy without a match decides
// with its default unless that is next; otherwise the firewall default
// decides. Addresses match as netip.Prefix.Contains says: never across
// families, an IPv4-mapped IPv6 flow address is IPv6, an empty list is any.
// A port list never matches a flow without ports (icmp, icmpv6). Expiry is
// judged at evaluation time, so a matcher can be cached per revision.
// Entries the domain refuses never panic Compile: they match nothing (see
// Compile).
//
// # Structure
//
// A linear scan costs O(rules) per flow. The matcher instead answers "which
// rule with the lowest evaluation order matches this flow", with a cost
// that depends on how many prefixes contain the flow's addresses and on how
// many rules share them, not on the number of rules:
//
//  1. Flattening. Rules get an order: their index in evaluation order.
//     Policies after the first enabled one whose default decides are never
//     reached and are dropped, so a lookup is "lowest matching order, else
//     that policy's default, else the firewall's".
//
//  2. Tuple space on prefix pairs. Each rule becomes entries keyed by
//     (source prefix, destination prefix), ANY standing for an empty list.
//     The cross product is capped at 64 entries a rule; a rule with longer
//     lists is keyed on its shorter list and checks the other by prefix id.
//     This is the tuple space search of Open vSwitch's classifier with its
//     "prefix tracking" taken to the end: instead of probing one hash table
//     per (source length, destination length) tuple (up to 33×33 for IPv4
//     and 129×129 for IPv6), a lookup first finds the prefixes that contain
//     each address, and only those can key a matching entry.
//
//  3. Prefix index. The prefixes of a side nest or are disjoint, so they cut
//     the address space into elementary intervals, each with a fixed chain
//     of containing prefixes. An IPv4 address finds its interval's innermost
//     prefix in a DIR-k table (a root indexed by the top k ≤ 16 bits,
//     256-entry sub-tables where intervals are dense, then a block of at
//     most 16 starts scanned without branches); an IPv6 address in a small
//     path-compressed radix tree. Parent links give the rest of the chain,
//     usually one to five prefixes.
//
//  4. Pairs with ANY are reached from the chain itself: each prefix holds
//     the span of its (prefix, ANY) entries; (ANY, ANY) is split by
//     protocol. Pairs of two prefixes go through a small Bloom filter (2
//     bytes a pair), whose words also hold the lowest order of their pairs
//     (rounded down), then an open-addressing table that holds a single
//     entry inline. Each prefix also holds a 64-bit mask of the prefixes
//     it pairs with (a hashed bit each): when the masks of one chain miss
//     the prefixes of the other, no pair can match and the nested walk of
//     both chains is skipped.
//
//  5. Spans and pruning. A span lists its entries in order, with the order
//     of its first entry and the protocols it holds, so a span that cannot
//     beat the best match so far is skipped without being read (Open
//     vSwitch's priority pruning), and a scan stops at its first match.
//     Spans of more than 128 entries are split by protocol and by elementary
//     destination-port interval. An entry checks protocol and destination
//     port inline, in one branch; source ports, several destination ranges,
//     long lists and expiry are in a side record read only for the entries
//     that have them.
//
//  6. Dead entries. An entry that an earlier entry without flags always
//     beats (keyed on the same prefixes or on prefixes that contain them,
//     ANY included, with protocols and a port range that hold its own) can
//     never decide, nor be an expired match listed before the decision, so
//     Compile drops it. Rule bases repeat themselves and hide rules behind
//     broader ones, the more so the bigger they are: the realistic
//     benchmark sets below keep 85% of their entries at 1,000 rules and
//     13% at 100,000, so the structures a flow reads stay small.
//
// Everything is computed by Compile (sorting, O(n log n)); Evaluate reads a
// fixed handful of cache lines, allocates nothing without explain, and the
// matcher is safe for concurrent use.
//
// Alternatives considered: per-field interval bit vectors (Lucent, ABV)
// need one bit per rule per elementary interval, gigabytes at 100,000
// rules; decision trees (HiCuts, HyperCuts) replicate rules and their build
// time is hard to bound; classic tuple space search probes a table per
// tuple, which the prefix chains avoid; a full cross product of per-field
// classes (RFC, recursive flow classification) blows up in memory, and so
// does merging the ANY spans of each chain (×114 entries on the "unique"
// 100,000-rule set below).
//
// # Performance
//
// Measured with `go test -run XXX -bench . -cpu 1 -benchmem
// ./internal/engine/` on one core of a shared virtual AMD EPYC (Turin-like;
// about 1 MB of L2, L3 latency rising sharply past 8-16 MB), 16,384 flows
// per set, about half built to hit a rule. "realistic" sets have five
// policies and draw prefixes (/8–/32, /32–/128) from a fixed pool of 3,800
// address objects in 180 networks, with common ports and ranges and mostly
// tcp and udp; "unique" sets draw fresh prefixes for nearly every rule (a
// much bigger index); "random" draws everything uniformly. ns per decision,
// the lowest fastest and the highest median of two sets of 5 runs, each
// run interleaved between sizes:
//
//	set                 Evaluate   EvaluateBatch   Compile
//	realistic 100          76-81        67-71
//	realistic 1,000        95-100       87-96       1.4 ms, 1.2 MB
//	realistic 10,000      139-149      129-140
//	realistic 100,000     161-171      153-159      165-180 ms, 53 MB
//
// so 100,000 rules cost 1.67-1.72× the per-decision time of 1,000 for
// Evaluate and 1.66-1.77× for EvaluateBatch (before the dead entries and
// the partner masks: 2.15-2.2× and 2.15-2.3×, 209-219 and 196-221 ns at
// 100,000 rules in the same runs). Most of that gain is the dead
// entries: the realistic generator draws 100,000 rules from 3,800 address
// objects and a few dozen ports, so 87% of their entries are hidden
// behind earlier ones, and without dropping them the partner masks alone
// leave the ratio at 2.14-2.26×. A rule base of 100,000 live, distinct
// rules would still see the growth described below. The shared machine
// is rarely quiet:
// under load, figures move by 10-50%, and the 100,000-rule ones most,
// since other processes take the L3 cache. The unique and random sets are
// too noisy to quote in time; callgrind counts instead (instructions,
// misses of a 48 KB L1 and of a 1 MB L2, and mispredicted branches a flow;
// `valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes
// --D1=49152,12,64 --LL=1048576,16,64 --toggle-collect='*Matcher).Evaluate'`
// on the test binary with -test.benchtime=100001x, GOMAXPROCS=1 and
// GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off, without which valgrind trips
// on the runtime's signals and RDTSCP; building the 100,000-rule set under
// valgrind takes most of 20 minutes, so starting it with
// --instr-atstart=no and switching instrumentation on with
// `callgrind_control -i on` once the set is built gives the same counts
// in seconds):
//
//	realistic 1,000       676 instructions,  4.9 L1,  0.0 L2 misses,  8.3 mispredicted
//	realistic 10,000      808 instructions,  7.8 L1,  0.4 L2 misses, 10.8 mispredicted
//	realistic 100,000     883 instructions,  9.2 L1,  0.6 L2 misses, 11.9 mispredicted
//	unique 100,000       1115 instructions, 14.4 L1,  5.8 L2 misses, 14.6 mispredicted
//	random 10,000        1156 instructions, 11.4 L1,  2.9 L2 misses,  8.9 mispredicted
//
// (before: 680, 889 and 1055 instructions, 0.0, 0.4 and 1.5 L2 misses,
// 8.4, 12.9 and 14.4 mispredicted at 1,000, 10,000 and 100,000 rules.
// EvaluateBatch: 670 and 877 instructions at 1,000 and 100,000 rules,
// with 1.1 and 1.9 L2 misses, the flows and decisions streamed.)
//
// Where the time goes, timed in parts before the partner masks (the
// address lookups alone, then with the chain walks, the span scans and
// the pair walk; ns a flow at 1,000 and at 100,000 rules): the address
// lookups 50-53 and 58-69, the chain walks 18-22 and 18-28, the span
// scans 6 and 46-52, the pair walk 6 and 10-19 (which the masks cut
// further: 64 instructions and 1.5 mispredicted branches a flow at
// 100,000 rules), the decision (the rule's id, read at random) 14-17 and
// 16-27. What still grows with the rule count is mostly the span scans:
// at 100,000 rules a flow scans 1.7 spans besides (ANY, ANY) and 5.2
// entries (1.4 at 1,000), of which 1.0 are of another protocol and 2.6
// for another port (1.0 at 1,000, mostly the telnet catch-all), and their
// loop ends and tests are the mispredicted branches.
//
// Measured and dropped as no better: stopping chain walks on a per-prefix
// bound of everything above it (fewer mispredictions in callgrind, more
// instructions and a bigger node), taking the first steps of both chains
// a fixed number of times (predictable loop ends, but +50-90
// instructions, no clear gain in time), a single branch for a span's
// order and protocol tests, a leaf first-fit loop; testing a span's
// entries two or four at a time into a bit mask (fewer mispredictions,
// but +60-240 instructions a flow and slower at both sizes); lists by
// protocol class within a span (1.8 fewer entries read a flow at 100,000
// rules, but the class lists' header or arithmetic and the copies of
// any-protocol entries ate the gain); splitting spans by port from 8, 16,
// 32 or 64 entries rather than 128 (more instructions and misses); an
// 8- or 12-byte rule table with the ids in one string (the decision's
// random read: 0.17 -> 0.13 misses, more instructions, no change in
// time); in EvaluateBatch, taking flows through each stage in groups of
// 8 (lookups, then decisions; or address lookups, then matches), or
// looking up the next flow's addresses while matching this one, and
// reading the first entries of a chain's spans before scanning them (all
// slower at 1,000 rules and no faster at 100,000).
package engine
