package seed

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"idem/registry/fhir"
)

// Files WriteNDJSON writes.
const (
	TruthFile         = "truth.csv"          // type,system,local_id,entity
	HardNegativesFile = "hard_negatives.csv" // type,entity_a,entity_b,kind
	SummaryFile       = "summary.json"
)

// NDJSONFile is the file the records of a type go to ("Patient.ndjson").
func NDJSONFile(typ string) string { return typ + ".ndjson" }

// WriteNDJSON generates the network into dir (created if needed): one
// NDJSON file per type in FHIR bulk-data style (Patient.ndjson,
// Practitioner.ndjson, Location.ndjson), the ground truth beside them in
// truth.csv and hard_negatives.csv (never inside the records), and the
// Summary as summary.json. Existing files are replaced.
func WriteNDJSON(dir string, cfg Config) (Summary, error) {
	var sum Summary
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, err
	}
	w := &ndjsonWriter{files: map[string]*bufio.Writer{}}
	err := w.open(dir)
	if err == nil {
		err = GenerateWith(cfg, func(r Record) error {
			sum.Add(r)
			return w.record(r)
		}, func(h HardNegative) error {
			sum.AddHardNegative(h)
			return w.negatives.Write([]string{h.Type, h.A, h.B, h.Kind})
		})
	}
	err = errors.Join(err, w.close())
	if err != nil {
		return sum, err
	}
	b, err := json.MarshalIndent(&sum, "", "  ")
	if err != nil {
		return sum, err
	}
	return sum, os.WriteFile(filepath.Join(dir, SummaryFile), append(b, '\n'), 0o644)
}

// ndjsonWriter holds the open output files of WriteNDJSON.
type ndjsonWriter struct {
	handles   []*os.File
	flush     []*bufio.Writer
	files     map[string]*bufio.Writer // by resource type
	truth     *csv.Writer
	negatives *csv.Writer
}

func (w *ndjsonWriter) open(dir string) error {
	for _, name := range []string{NDJSONFile(TypePatient), NDJSONFile(TypePractitioner), NDJSONFile(TypeLocation), TruthFile, HardNegativesFile} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		b := bufio.NewWriterSize(f, 256<<10)
		w.handles, w.flush = append(w.handles, f), append(w.flush, b)
		switch name {
		case TruthFile:
			w.truth = csv.NewWriter(b)
		case HardNegativesFile:
			w.negatives = csv.NewWriter(b)
		default:
			w.files[name[:len(name)-len(".ndjson")]] = b
		}
	}
	if err := w.truth.Write([]string{"type", "system", "local_id", "entity"}); err != nil {
		return err
	}
	return w.negatives.Write([]string{"type", "entity_a", "entity_b", "kind"})
}

func (w *ndjsonWriter) record(r Record) error {
	out := w.files[r.Type]
	if out == nil {
		return fmt.Errorf("seed: no output file for type %q", r.Type)
	}
	if _, err := out.Write(fhir.MarshalResource(r.Resource)); err != nil {
		return err
	}
	if err := out.WriteByte('\n'); err != nil {
		return err
	}
	return w.truth.Write([]string{r.Type, r.System, r.LocalID, r.Entity})
}

// close flushes and closes everything that was opened, reporting the first
// failure of each step.
func (w *ndjsonWriter) close() error {
	var errs []error
	for _, c := range []*csv.Writer{w.truth, w.negatives} {
		if c != nil {
			c.Flush()
			errs = append(errs, c.Error())
		}
	}
	for i, b := range w.flush {
		errs = append(errs, b.Flush(), w.handles[i].Close())
	}
	return errors.Join(errs...)
}
