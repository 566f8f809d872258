package httpapi

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

// ListParams selects a page of a collection. The descriptions of filter
// and order_by are replaced per collection by describeList, so that each
// lists its own fields.
type ListParams struct {
	PageSize  int    `query:"page_size" minimum:"1" maximum:"1000" default:"50" doc:"How many items to return, 1 to 1000."`
	PageToken string `query:"page_token" maxLength:"2048" doc:"The next_page_token of the previous page, with the same filter and order_by; leave it out for the first page."`
	// The filter's length is checked by internal/filter, whose message
	// says how long it was.
	Filter  string `query:"filter" doc:"An AIP-160 filter expression."`
	OrderBy string `query:"order_by" doc:"An AIP-132 order."`
}

func (p ListParams) query() firewall.Query {
	return firewall.Query{PageSize: p.PageSize, PageToken: p.PageToken, Filter: p.Filter, OrderBy: p.OrderBy}
}

// describeList writes the filter and order_by descriptions of a list
// operation from the fields the service says the list accepts.
func describeList(c service.Collection) func(*huma.Operation) {
	return func(op *huma.Operation) {
		fields := service.DescribeList(c)
		for _, p := range op.Parameters {
			switch p.Name {
			case "filter":
				// The example goes in the text: as an example value, Swagger
				// UI's "try it out" would send it.
				p.Description = fields.Filter + " Example: " + fields.Example
			case "order_by":
				p.Description = fields.OrderBy
			}
		}
	}
}

// Page is one page of a collection.
type Page[T any] struct {
	Items         []T    `json:"items" doc:"The items of this page."`
	NextPageToken string `json:"next_page_token" doc:"Pass it as page_token to get the next page; empty on the last page."`
}

func pageOf[D, T any](p firewall.Page[D], conv func(D) T) Page[T] {
	items := make([]T, len(p.Items))
	for i, d := range p.Items {
		items[i] = conv(d)
	}
	return Page[T]{Items: items, NextPageToken: p.NextPageToken}
}
