//go:build !cgo

package app

// cgoEnabled reports whether this binary was built with cgo, which the
// SQLite driver (github.com/mattn/go-sqlite3) needs. Go builds without cgo
// when CGO_ENABLED=0 or, silently, when it finds no C compiler.
const cgoEnabled = false
