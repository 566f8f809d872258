package auth

// Role is a FireFlow role from the token's "roles" claim.
type Role string

// The roles FireFlow knows. Viewer, editor and admin are ranked, each
// allowing what the ones below it do. Approver stands aside: it reads as a
// viewer does and approves or rejects change requests; an editor does not
// hold it, so that writing a change and approving one are separate grants.
// Admin, which is everything, holds it too.
const (
	// Viewer may read.
	Viewer Role = "viewer"
	// Approver may read, and approve or reject change requests (never
	// their own, which the service refuses).
	Approver Role = "approver"
	// Editor may read and write.
	Editor Role = "editor"
	// Admin may do everything, including reading the audit log.
	Admin Role = "admin"
)

// rank orders the known roles; unknown roles rank 0 so that they grant
// nothing. Approver ranks as viewer, for reading; approving is checked
// apart, in Allows.
func (r Role) rank() int {
	switch r {
	case Viewer, Approver:
		return 1
	case Editor:
		return 2
	case Admin:
		return 3
	default:
		return 0
	}
}

// Allows reports whether a holder of r may do what needs `need` (admin >
// editor > viewer; approver ≥ viewer; only approver and admin allow approver).
//
// It fails closed: an unknown or empty role allows nothing, and nothing
// allows an unknown or empty need, so a typo in a caller cannot open access.
func (r Role) Allows(need Role) bool {
	if need == Approver {
		return r == Approver || r == Admin
	}
	have, want := r.rank(), need.rank()
	return have > 0 && want > 0 && have >= want
}

// Principal is an authenticated caller.
type Principal struct {
	// Subject is the token's "sub" claim, never empty.
	Subject string
	// Roles are the role names as in the token, for the audit log; unknown names are kept.
	Roles []string
	// Role is the highest known role held, "" if none.
	Role Role
}

// Can reports whether p may do what needs `need`: whether any role p holds
// allows it, since approver sits beside the ranked roles (a token may hold
// editor and approver).
func (p Principal) Can(need Role) bool {
	if p.Role.Allows(need) {
		return true
	}
	for _, n := range p.Roles {
		if Role(n).Allows(need) {
			return true
		}
	}
	return false
}

// highestRole returns the highest known role among names, "" if none is known.
func highestRole(names []string) Role {
	var best Role
	for _, n := range names {
		if r := Role(n); r.rank() > best.rank() {
			best = r
		}
	}
	return best
}
