package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/sqlstore/sqltest"
)

const importCSV = `mrn,surname,first_name,dob,sex
C1,Eyre,Jane,1820-05-01,female
C2,Rochester,Edward,1801-13-40,male
C3,Reed,Sarah,1790-02-02,female
`

// idem import of a CSV as a named client: a row that does not validate is
// reported by its line and skipped, the rest written; the same file again
// updates, never duplicates; with --strict the file is refused and nothing
// is written; an unknown client is refused before anything is read.
func TestImportCommand(t *testing.T) {
	db := createdDB(t, "sqlite")
	run(t, db, "client", "add", "ehr", "--system", "http://ehr.example/fhir", "--role", "source", "--domain", "http://ehr.example/mrn")
	file := filepath.Join(t.TempDir(), "patients.csv")
	if err := os.WriteFile(file, []byte(importCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	mapping := "identifier=mrn,id=mrn,family=surname,given=first_name,birthDate=dob,gender=sex,identifierSystem=http://ehr.example/mrn"
	count := func() int {
		t.Helper()
		s := &registry.Service{Store: sqltest.Open(t, db)}
		q, err := registry.ParseQuery(registry.TypePatient, map[string][]string{"_summary": {"count"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Store.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		s.Store.Close()
		return res.Total
	}

	code, out, errOut := runAll(db, "import", "--strict", "--client", "ehr", "--map", mapping, file)
	if code == 0 || !strings.Contains(out+errOut, "line 2") || count() != 0 {
		t.Fatalf("--strict with a bad row: exit %d, %d stored\n%s%s", code, count(), out, errOut)
	}
	code, out, errOut = runAll(db, "import", "--client", "nosuch", "--map", mapping, file)
	if code == 0 || !strings.Contains(errOut, "nosuch") || count() != 0 {
		t.Fatalf("unknown client: exit %d\n%s%s", code, out, errOut)
	}

	out = run(t, db, "import", "--client", "ehr", "--map", mapping, file)
	if !strings.Contains(out, "2 created, 0 updated, 1 rejected") || !strings.Contains(out, "line 2") || !strings.Contains(out, "birthDate") {
		t.Fatalf("first import:\n%s", out)
	}
	out = run(t, db, "import", "--client", "ehr", "--map", mapping, file)
	if !strings.Contains(out, "0 created, 2 updated, 1 rejected") {
		t.Fatalf("the same file again:\n%s", out)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d Patients stored for two good rows imported twice", n)
	}
}
