package firewall

import "time"

// RevisionRecord describes one revision of a firewall's tree: when it was
// made, by whom, through which request, and what it changed in one line.
type RevisionRecord struct {
	FirewallID string    `json:"firewall_id"`
	Revision   int64     `json:"revision"`
	CreatedAt  time.Time `json:"created_at"`
	Actor      string    `json:"actor"`
	RequestID  string    `json:"request_id"`
	Summary    string    `json:"summary"`
}

// Retention says which revisions of a firewall's history are kept. A
// revision is pruned when it is beyond Keep newest ones or older than
// MaxAge; the current revision is always kept. Zero means no limit.
type Retention struct {
	Keep   int
	MaxAge time.Duration
}
