package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Cursor is the position after the last item of a page: its sort key and id.
// Lists page by keyset, so a cursor costs the same at page 1 and page 500.
type Cursor struct {
	// Int is the sort key of integer-ordered lists (priority, position).
	Int int64 `json:"i,omitempty"`
	// Str is the sort key of string-ordered lists (name).
	Str string `json:"s,omitempty"`
	// ID breaks ties and makes the order total.
	ID string `json:"id"`
}

// cursorVersion lets the token format change without misreading old tokens.
const cursorVersion = 1

type token struct {
	V int    `json:"v"`
	C Cursor `json:"c"`
}

// EncodeCursor returns the opaque page token for c.
func EncodeCursor(c Cursor) string {
	b, err := json.Marshal(token{V: cursorVersion, C: c})
	if err != nil {
		// A struct of strings and ints always marshals.
		panic(fmt.Sprintf("encode cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a page token made by EncodeCursor. A token that does
// not parse returns a firewall.CodeInvalid error located at page_token.
func DecodeCursor(pageToken string) (Cursor, error) {
	bad := func(why string) error {
		var ps firewall.Problems
		ps.Add("page_token", pageToken, "%s; pass the next_page_token of a previous page unchanged", why)
		return ps.Err("the page token is not valid")
	}
	if len(pageToken) > 2048 {
		return Cursor{}, bad("the page token is too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil {
		return Cursor{}, bad("the page token is not one this service issued")
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.V != cursorVersion || t.C.ID == "" {
		return Cursor{}, bad("the page token is not one this service issued")
	}
	return t.C, nil
}
