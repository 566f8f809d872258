// Package archtest holds the import-boundary test: the dependency
// direction of DESIGN §4, written down as a table and checked against the
// packages' real imports. It has no code of its own.
package archtest
