package web

import "time"

// Small readers of decoded FHIR JSON and the clock, shared by the handlers.

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// one is a list of s, or none when s is empty.
func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// now is the registry's clock.
func (s *Server) now() time.Time {
	return s.registry.Now()
}
