package bulk

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"idem/registry"
)

// Input formats of local imports (idem import).
const (
	FormatNDJSON = "ndjson"
	FormatBundle = "bundle"
	FormatCSV    = "csv"
)

// FormatOf guesses a file's format from its name.
func FormatOf(name string) string {
	switch {
	case strings.HasSuffix(name, ".csv"):
		return FormatCSV
	case strings.HasSuffix(name, ".json"):
		return FormatBundle
	}
	return FormatNDJSON
}

// ToNDJSON returns r (in format) as NDJSON, one resource per line, for
// Submit: NDJSON as it is, a Bundle's entry resources, or CSV rows as
// Patients through fields (see CSVPatient). Problems of a row or entry
// become a line that does not validate, so they are reported by number.
func ToNDJSON(r io.Reader, format string, fields map[string]string) (io.Reader, error) {
	switch format {
	case FormatNDJSON:
		return r, nil
	case FormatBundle:
		var b struct {
			ResourceType string `json:"resourceType"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.NewDecoder(r).Decode(&b); err != nil || b.ResourceType != "Bundle" {
			return nil, registry.Errorf(registry.EInvalid, "not a FHIR Bundle (JSON): %v", err)
		}
		var sb strings.Builder
		for _, e := range b.Entry {
			sb.Write(compactLine(e.Resource))
			sb.WriteByte('\n')
		}
		return strings.NewReader(sb.String()), nil
	case FormatCSV:
		if len(fields) == 0 {
			return nil, registry.Errorf(registry.EInvalid, "a CSV import needs --map, e.g. given=first_name,family=surname,birthDate=date_of_birth")
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(csvToNDJSON(r, fields, pw)) }()
		return pr, nil
	}
	return nil, registry.Errorf(registry.EInvalid, "unknown input format %q (ndjson, bundle, csv)", format)
}

// compactLine returns one JSON value on one line ("{}" when empty).
func compactLine(raw json.RawMessage) []byte {
	var sb strings.Builder
	if len(raw) == 0 {
		return []byte(`{"resourceType":""}`)
	}
	enc := json.NewEncoder(&sb)
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return []byte(strings.ReplaceAll(string(raw), "\n", " "))
	}
	_ = enc.Encode(v)
	return []byte(strings.TrimSpace(sb.String()))
}

// ParseMap parses --map: "given=first_name,family=surname,…".
func ParseMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.Contains(csvFields, ","+strings.TrimSpace(k)+",") {
			return nil, fmt.Errorf("--map: %q is not FIELD=column with FIELD one of %s", kv, strings.Trim(csvFields, ","))
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// csvFields are the Patient fields a CSV column can fill.
const csvFields = ",id,identifier,identifierSystem,family,given,birthDate,gender,phone,email,line,city,postalCode,state,country,"

// csvToNDJSON writes each CSV row as a Patient line.
func csvToNDJSON(r io.Reader, fields map[string]string, w io.Writer) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for f, c := range fields {
		if _, ok := col[c]; !ok && f != "identifierSystem" {
			return fmt.Errorf("--map %s=%s: the CSV has no column %q (columns: %s)", f, c, c, strings.Join(header, ", "))
		}
	}
	bw := bufio.NewWriter(w)
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			return err
		}
		get := func(f string) string {
			if i, ok := col[fields[f]]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		line, _ := json.Marshal(CSVPatient(get, fields["identifierSystem"]))
		bw.Write(line)
		bw.WriteByte('\n')
	}
}

// CSVPatient builds a Patient from the mapped fields of one row; an
// identifier's system is given as identifierSystem=URI in --map.
func CSVPatient(get func(field string) string, idSystem string) map[string]any {
	p := map[string]any{"resourceType": registry.TypePatient}
	set := func(k string, v any) {
		if v != "" && v != nil {
			p[k] = v
		}
	}
	set("id", get("id"))
	if v := get("identifier"); v != "" {
		id := map[string]any{"value": v}
		if idSystem != "" {
			id["system"] = idSystem
		}
		p["identifier"] = []any{id}
	}
	name := map[string]any{}
	if v := get("family"); v != "" {
		name["family"] = v
	}
	if v := get("given"); v != "" {
		name["given"] = strings.Fields(v)
	}
	if len(name) > 0 {
		p["name"] = []any{name}
	}
	set("birthDate", get("birthDate"))
	set("gender", strings.ToLower(get("gender")))
	var telecom []any
	for _, sys := range []string{"phone", "email"} {
		if v := get(sys); v != "" {
			telecom = append(telecom, map[string]any{"system": sys, "value": v})
		}
	}
	if telecom != nil {
		p["telecom"] = telecom
	}
	addr := map[string]any{}
	for _, f := range []string{"city", "postalCode", "state", "country"} {
		if v := get(f); v != "" {
			addr[f] = v
		}
	}
	if v := get("line"); v != "" {
		addr["line"] = []any{v}
	}
	if len(addr) > 0 {
		p["address"] = []any{addr}
	}
	return p
}
