package seed

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// FEBRLSystem is the identifier system the FEBRL soc_sec_id column is
// mapped to; the default match rules read it as a national identifier.
const FEBRLSystem = "http://febrl.example/soc_sec_id"

// febrlColumns are the columns ReadFEBRL needs, as named in the header.
var febrlColumns = []string{
	"rec_id", "given_name", "surname", "street_number", "address_1", "address_2",
	"suburb", "postcode", "state", "date_of_birth", "soc_sec_id",
}

// ReadFEBRL reads a FEBRL data set (CSV with a header; fields separated by a
// comma and, in some files, a space) and maps each row to a FHIR Patient:
// given_name → name.given, surname → name.family, street_number + address_1
// and address_2 → address.line, suburb → city, postcode → postalCode, state,
// date_of_birth (YYYYMMDD; blank or impossible → no birthDate) → birthDate,
// soc_sec_id → an identifier of FEBRLSystem, rec_id → id (made a valid FHIR
// id). Values are kept as text, leading zeros included. entity[i] is the N
// of row i's "rec-N-org" or "rec-N-dup-k".
func ReadFEBRL(r io.Reader) (patients []map[string]any, entity []string, err error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("febrl: header: %w", err)
	}
	col, err := febrlHeader(header)
	if err != nil {
		return nil, nil, err
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return patients, entity, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("febrl: %w", err)
		}
		get := func(name string) string { return strings.TrimSpace(row[col[name]]) }
		id := get("rec_id")
		ent, ok := febrlEntity(id)
		if !ok {
			line, _ := cr.FieldPos(0)
			return nil, nil, fmt.Errorf("febrl: line %d: rec_id %q is not rec-N-org or rec-N-dup-K", line, id)
		}
		patients = append(patients, febrlPatient(get))
		entity = append(entity, ent)
	}
}

// febrlHeader maps each needed column to its index.
func febrlHeader(header []string) (map[string]int, error) {
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, c := range febrlColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("febrl: header has no column %q", c)
		}
	}
	return col, nil
}

// febrlEntity returns the N of "rec-N-org" or "rec-N-dup-K".
func febrlEntity(recID string) (string, bool) {
	parts := strings.Split(recID, "-")
	if len(parts) < 3 || parts[0] != "rec" || parts[1] == "" || parts[2] != "org" && parts[2] != "dup" {
		return "", false
	}
	return parts[1], true
}

// febrlPatient builds the Patient of one row; get returns a trimmed column.
func febrlPatient(get func(string) string) map[string]any {
	p := map[string]any{"resourceType": "Patient", "id": fhirID(get("rec_id"))}
	name := map[string]any{}
	if f := get("surname"); f != "" {
		name["family"] = f
	}
	if g := get("given_name"); g != "" {
		name["given"] = []any{g}
	}
	if len(name) > 0 {
		p["name"] = []any{name}
	}
	if a := febrlAddress(get); len(a) > 0 {
		p["address"] = []any{a}
	}
	if d, ok := febrlDate(get("date_of_birth")); ok {
		p["birthDate"] = d
	}
	if s := get("soc_sec_id"); s != "" {
		p["identifier"] = []any{map[string]any{"system": FEBRLSystem, "value": s}}
	}
	return p
}

func febrlAddress(get func(string) string) map[string]any {
	a := map[string]any{}
	var lines []any
	if l := strings.TrimSpace(get("street_number") + " " + get("address_1")); l != "" {
		lines = append(lines, l)
	}
	if l := get("address_2"); l != "" {
		lines = append(lines, l)
	}
	if len(lines) > 0 {
		a["line"] = lines
	}
	for col, elem := range map[string]string{"suburb": "city", "postcode": "postalCode", "state": "state"} {
		if v := get(col); v != "" {
			a[elem] = v
		}
	}
	return a
}

// febrlDate turns YYYYMMDD into a FHIR date; blank or impossible dates
// (month 13, 31 February) are not dates.
func febrlDate(s string) (string, bool) {
	t, err := time.Parse("20060102", s)
	if err != nil || len(s) != 8 {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

// fhirID makes s a valid FHIR id: characters other than A-Z, a-z, 0-9, '-'
// and '.' become '-', and it is cut to 64 characters.
func fhirID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}
