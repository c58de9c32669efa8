// Package needcgo stops a build without cgo with an error that says why:
// the SQLite driver (gorm.io/driver/sqlite over github.com/mattn/go-sqlite3)
// is C. Go builds without cgo when CGO_ENABLED=0 or, quietly, when it finds
// no C compiler; the store would then fail to compile with an error about
// sqlite3.SQLiteConn that names no cause. app imports this package so that
// its error is printed beside that one.
package needcgo
