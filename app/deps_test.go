package app

import (
	"os/exec"
	"strings"
	"testing"
)

// The dependency direction of docs/style: the domain imports nothing of the
// project but its FHIR engine (registry/fhir), which imports nothing of
// it; policy (a pure engine behind its Store interface) nothing of the
// project and no database, the web layer never reaches the store or GORM
// (it uses policy's types, not its storage), the admin UI (web/ui) sits on
// top of web and never the reverse, and only app wires everything
// together.
func TestDependencyDirection(t *testing.T) {
	forbidden := map[string][]string{
		"idem/registry":                      {"idem/"}, // but idem/registry/fhir, allowed below
		"idem/registry/fhir":                 {"idem/"},
		"idem/policy":                        {"idem/", "gorm.io/", "github.com/mattn/go-sqlite3", "github.com/jackc/"},
		"idem/registry/sqlstore/policystore": {"idem/web", "idem/linkage", "idem/matching", "idem/app"},
		"idem/web":                           {"idem/registry/sqlstore", "gorm.io/", "idem/registry/exchange", "idem/web/ui"},
		"idem/web/ui":                        {"idem/registry/sqlstore", "gorm.io/", "idem/registry/exchange", "github.com/mattn/go-sqlite3", "github.com/jackc/", "idem/web/internal/authtest"},
		"idem/registry/outbound":             {"idem/"},
		"idem/registry/exchange":             {"idem/registry/sqlstore", "idem/web", "idem/policy", "idem/linkage"},
	}
	allowed := map[string]map[string]bool{
		"idem/registry": {"idem/registry/fhir": true},
	}
	for pkg, bans := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == pkg {
				continue
			}
			if allowed[pkg][dep] {
				continue
			}
			for _, ban := range bans {
				if strings.HasPrefix(dep, ban) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
