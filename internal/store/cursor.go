package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Cursor is the position after the last item of a page: the values of its
// sort keys, in the order's sequence, ending with its id. Lists page by
// keyset, so a cursor costs the same at page 1 and page 500.
type Cursor struct {
	// Keys are the sort key values: strings, integers (times as unix
	// microseconds) and booleans.
	Keys []json.RawMessage `json:"k"`
	// Binding identifies the filter and order the cursor belongs to
	// (filter.Query.Binding), so that it cannot continue another listing.
	Binding string `json:"b"`
}

// cursorVersion lets the token format change without misreading old tokens.
const cursorVersion = 3

// maxPageToken bounds a token; real ones are a few hundred bytes.
const maxPageToken = 2048

type token struct {
	V int    `json:"v"`
	C Cursor `json:"c"`
}

// NewCursor builds the cursor of an item from its sort key values.
func NewCursor(binding string, keys []any) Cursor {
	c := Cursor{Binding: binding, Keys: make([]json.RawMessage, len(keys))}
	for i, k := range keys {
		b, err := json.Marshal(k)
		if err != nil {
			// Keys are strings, integers and booleans, which always marshal.
			panic(fmt.Sprintf("encode cursor key: %v", err))
		}
		c.Keys[i] = b
	}
	return c
}

// EncodeCursor returns the opaque page token for c.
func EncodeCursor(c Cursor) string {
	b, err := json.Marshal(token{V: cursorVersion, C: c})
	if err != nil {
		// Raw JSON values and strings always marshal.
		panic(fmt.Sprintf("encode cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a page token made by EncodeCursor for the listing
// identified by binding. A token that does not parse, or that was made for
// another filter or order, returns a firewall.CodeInvalid error located at
// page_token.
func DecodeCursor(pageToken, binding string) (Cursor, error) {
	bad := func(why string) error {
		var ps firewall.Problems
		ps.Add("page_token", nil, "%s; pass the next_page_token of the previous page unchanged, with the same filter and order_by", why)
		return ps.Err("the page token is not valid")
	}
	if len(pageToken) > maxPageToken {
		return Cursor{}, bad("the page token is too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil {
		return Cursor{}, bad("the page token is not one this service issued")
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.V != cursorVersion || len(t.C.Keys) == 0 {
		return Cursor{}, bad("the page token is not one this service issued")
	}
	if t.C.Binding != binding {
		return Cursor{}, bad("the page token was issued for a different filter or order_by")
	}
	return t.C, nil
}
