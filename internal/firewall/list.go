package firewall

// Query selects one page of a collection.
type Query struct {
	// PageSize is the maximum number of items to return, 1 to MaxPageSize.
	PageSize int
	// PageToken continues a previous listing; "" starts at the beginning.
	// It must come with the same Filter and OrderBy as that listing.
	PageToken string
	// Filter is an AIP-160 expression over the resource's fields (see
	// internal/filter); "" selects everything.
	Filter string
	// OrderBy is an AIP-132 order; "" is the list's default order.
	OrderBy string
}

// Page sizes accepted by every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Page is one page of a collection.
type Page[T any] struct {
	Items []T
	// NextPageToken continues the listing; "" means this is the last page.
	NextPageToken string
}
