package seed_test

import (
	"fmt"

	"idem/seed"
)

// The records of one person as the hospital EHR, the laboratory and the GP
// practice hold them, with the differences the ground truth lists for each:
// two systems still have her maiden name, the EHR her old address and a typo.
func ExampleGenerate() {
	cfg := seed.Config{Seed: 42, Persons: 40}
	_ = seed.Generate(cfg, func(r seed.Record) error {
		if r.Entity == "person-35" {
			name := r.Resource["name"].([]any)[0].(map[string]any)
			fmt.Println(r.System, r.LocalID, name["given"], name["family"], r.Resource["birthDate"], r.Errors)
		}
		return nil
	})
	// Output:
	// http://ehr.stmarys.example.org 44418267 [Mefan Lucía] Thornworth 1998-10-02 [marriage move typo]
	// http://lis.northside-lab.example.org L13-3397860 [MEGAN LUCIA] THORNWORTH 1998-10-02 [marriage]
	// http://emr.riverside-fp.example.org RFP168239 [Megan] Tucker 1998-10-02 []
}
