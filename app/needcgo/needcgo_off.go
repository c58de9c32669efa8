//go:build !cgo

package needcgo

// This identifier is undefined on purpose: the compiler prints its name.
var _ = idem_needs_cgo_for_SQLite__install_a_C_compiler_gcc_and_build_with_CGO_ENABLED_1
