package registry

// HeaderOnBehalfOf names, on a request idem makes to a peer for a
// federated search, the client or user it makes it for ("client/ehr-main",
// "user/ann"). A peer believes it only from a client it knows as a peer,
// and records it in its audit trail beside that client.
const HeaderOnBehalfOf = "X-Idem-On-Behalf-Of"

// PeerAnswer is one peer's answer to a federated search: the match
// entries of its first page, or why there are none.
type PeerAnswer struct {
	Endpoint string // Endpoint id
	Base     string // the peer's FHIR base
	Entries  []map[string]any
	Err      error
}
