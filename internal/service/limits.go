package service

import "github.com/fireflow/fireflow/internal/filter"

// Limits of list queries, which the API documents.
const (
	// MaxFilterLen is the longest filter a list accepts, in bytes.
	MaxFilterLen = filter.MaxFilterLen
	// MaxOrderByLen is the longest order_by a list accepts, in bytes.
	MaxOrderByLen = filter.MaxOrderByLen
)
