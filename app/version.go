package app

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Version, when set at build time (-ldflags "-X idem/app.Version=v1.2.3"),
// overrides the module version from the build info.
var Version = ""

// buildInfo is what the Go toolchain stamped into the binary: the module
// version (a tag, or a pseudo-version made from the commit), the commit, its
// time, and whether the tree had uncommitted changes.
type buildInfo struct {
	Version, Revision, Time, Go string
	Modified                    bool
}

func readBuildInfo() buildInfo {
	var b buildInfo
	info, ok := debug.ReadBuildInfo()
	if ok {
		b.Version, b.Go = info.Main.Version, info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if Version != "" {
		b.Version = Version
	}
	if b.Version == "" || b.Version == "(devel)" {
		b.Version = "(devel)"
		if b.Revision != "" {
			b.Version = "(devel) " + short(b.Revision)
		}
	}
	return b
}

func short(rev string) string { return rev[:min(len(rev), 12)] }

// versionString is the version in one word or two, for logs and the
// CapabilityStatement.
func versionString() string { return readBuildInfo().Version }

// printVersion is "idem version" and "idem --version".
func printVersion(w io.Writer) {
	b := readBuildInfo()
	fmt.Fprintln(w, "idem", b.Version)
	var vcs []string
	if b.Revision != "" {
		vcs = append(vcs, "commit "+b.Revision)
	}
	if b.Time != "" {
		vcs = append(vcs, b.Time)
	}
	if b.Modified {
		vcs = append(vcs, "with uncommitted changes")
	}
	if len(vcs) == 0 {
		vcs = append(vcs, "no commit in the build info (go build in a git checkout stamps it; go run, go test and builds without .git, like the container's, do not)")
	}
	fmt.Fprintln(w, strings.Join(vcs, ", "))
	if b.Go != "" {
		fmt.Fprintln(w, "built with", b.Go)
	}
}
