package matching

// patient returns a Patient resource with one name and a birth date; blank
// parts are left out.
func patient(given, family, birthDate string) map[string]any {
	name := map[string]any{}
	if family != "" {
		name["family"] = family
	}
	if given != "" {
		name["given"] = []any{given}
	}
	p := map[string]any{"resourceType": "Patient", "name": []any{name}}
	if birthDate != "" {
		p["birthDate"] = birthDate
	}
	return p
}

// with adds elements to a resource and returns it.
func with(res map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		res[kv[i].(string)] = kv[i+1]
	}
	return res
}

// address returns an Address list with one address.
func address(line, city, postalCode, state string) []any {
	return []any{map[string]any{"line": []any{line}, "city": city, "postalCode": postalCode, "state": state}}
}

// ident returns an identifier list with one identifier.
func ident(system, value string) []any {
	return []any{map[string]any{"system": system, "value": value}}
}

// telecom returns a ContactPoint list.
func telecom(system, value string) []any {
	return []any{map[string]any{"system": system, "value": value}}
}

// fieldOf returns the evidence of one field.
func fieldOf(m *Match, field string) Evidence {
	for _, e := range m.Fields {
		if e.Field == field {
			return e
		}
	}
	return Evidence{}
}
