// Package exchange is idem's traffic with other servers: topic-based FHIR
// Subscriptions (R4 Subscriptions Backport IG 1.1) delivered from the
// outbox the write path fills, the registry of linked servers (Endpoint,
// Organization), and pulling from those servers through the one write
// pipeline. Every call out goes through the outbound allow-list.
//
// Delivery is a small durable worker over idem's own tables rather than a
// general job queue: a subscription's events are numbered and sent in
// order by one holder of the subscription's lease at a time (see
// deliver.go for why, and the README for the River measurement).
package exchange

import (
	"slices"
	"strings"

	"idem/registry"
)

// TopicBase is the prefix of the canonical URLs of idem's topics.
const TopicBase = "http://idem.dev/fhir/SubscriptionTopic/"

// IG is the base of the Subscriptions Backport IG's canonical URLs.
const IG = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"

// Topic is one SubscriptionTopic idem offers: which events it carries.
type Topic struct {
	Canonical   string
	Title       string
	Type        string   // the focus type
	Kinds       []string // event kinds (registry.Event.Kind) it carries
	Description string
}

// Topics are the topics idem offers, in CapabilityStatement order: every
// change, creates, updates and deletes of each source type, and the
// golden-record changes.
var Topics = topics()

func topics() []Topic {
	var ts []Topic
	for _, typ := range []string{registry.TypePatient, registry.TypePractitioner, registry.TypeLocation} {
		lower := strings.ToLower(typ)
		ts = append(ts, Topic{TopicBase + lower, typ + " changed", typ, []string{"create", "update", "delete"}, "A " + typ + " was created, updated or deleted"})
		for _, k := range []string{"create", "update", "delete"} {
			ts = append(ts, Topic{TopicBase + lower + "-" + k, typ + " " + k, typ, []string{k}, "A " + typ + " was " + strings.TrimSuffix(k, "e") + "ed"})
		}
	}
	golden := []string{registry.EventGoldenCreated, registry.EventGoldenLinked, registry.EventGoldenUnlinked, registry.EventGoldenMerged, registry.EventGoldenUnmerged}
	ts = append(ts, Topic{TopicBase + "golden", "Golden record changed", registry.TypePerson, golden, "A golden record was created, linked, unlinked, merged or unmerged"})
	for _, k := range golden {
		ts = append(ts, Topic{TopicBase + k, "Golden record " + strings.TrimPrefix(k, "golden-"), registry.TypePerson, []string{k}, "A golden record was " + strings.TrimPrefix(k, "golden-")})
	}
	return ts
}

// TopicByURL returns the topic with canonical url.
func TopicByURL(url string) (Topic, bool) {
	for _, t := range Topics {
		if t.Canonical == url {
			return t, true
		}
	}
	return Topic{}, false
}

// carries reports whether t carries e. Golden topics carry the changes of
// either golden type (Person or Linkage).
func (t Topic) carries(e *registry.Event) bool {
	if !slices.Contains(t.Kinds, e.Kind) {
		return false
	}
	return e.Type == t.Type || strings.HasPrefix(e.Kind, "golden-")
}
