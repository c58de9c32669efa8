//go:build linux && cgo

package sqlstore

/*
#include <malloc.h>

// idem_limit_arenas caps glibc's malloc arenas at n, where the C library
// has the setting (glibc; musl has no arenas to cap). It returns 1 when
// the cap was set.
static int idem_limit_arenas(int n) {
#ifdef M_ARENA_MAX
	return mallopt(M_ARENA_MAX, n);
#else
	return 0;
#endif
}
*/
import "C"

import "os"

// SQLite allocates its page caches and statements with C's malloc, from
// the threads Go runs its connections on. glibc gives each such thread an
// arena of its own, up to eight per core, and freed pages stay in the
// arena they came from: in a linked ingest of 20,000 records, the C side
// of the process held 375 MB with the default arenas and 268 MB with two
// (BenchmarkLinkedIngestHTTP, RssAnon less Go's runtime), at no cost in
// CPU we could measure. An operator's MALLOC_ARENA_MAX wins.
func init() {
	if os.Getenv("MALLOC_ARENA_MAX") == "" {
		C.idem_limit_arenas(2)
	}
}
