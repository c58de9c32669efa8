//go:build cgo

package app

// cgoEnabled reports whether this binary was built with cgo, which the
// SQLite driver (github.com/mattn/go-sqlite3) needs.
const cgoEnabled = true
