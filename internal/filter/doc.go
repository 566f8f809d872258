// Package filter parses AIP-160 list filters and AIP-132 order_by clauses
// against the fields each resource declares, and translates them to
// parameterised SQL for SQLite or PostgreSQL. User text only ever reaches
// the database as bound arguments; the SQL text is built from the fixed
// column names and operators declared here.
//
// Parsing and type checking use go.einride.tech/aip. A store calls
// Compile once per list request, then builds its statement with a Builder
// for its Dialect: Where for the filter, OrderBy for the order, and After
// for the keyset condition of a page token.
package filter
