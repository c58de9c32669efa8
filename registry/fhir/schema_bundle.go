package fhir

import (
	"slices"
	"strings"
)

// The Bundle invariantTable of R4: bdl-1, -2, -3, -4, -7, -9, -10, -11, -12 on
// the Bundle, bdl-5 and -8 on each entry.

func bundleInvariants(v *schemaWalk, b map[string]any) {
	typ, _ := b["type"].(string)
	if !slices.Contains(valueSets["BundleType"], typ) {
		return // reported as a code problem already; the rules depend on it
	}
	if _, ok := b["total"]; ok && typ != "searchset" && typ != "history" {
		v.invariant("total", "bdl-1", "total only when a search or history")
	}
	entries, _ := b["entry"].([]any)
	var fullURLs map[string]bool
	for i, e := range entries {
		if m, ok := e.(map[string]any); ok {
			n := v.push("entry")
			v.pushIndex(i)
			bundleEntry(v, typ, m)
			fullURLs = uniqueFullURL(v, typ, m, fullURLs)
			v.pop(n)
		}
	}
	bundleDocument(v, typ, b, entries)
}

// bundleEntry checks bdl-2, bdl-3 and bdl-4 on one entry.
func bundleEntry(v *schemaWalk, typ string, e map[string]any) {
	if _, ok := e["search"]; ok && typ != "searchset" {
		v.invariant("search", "bdl-2", "entry.search only when a search")
	}
	wantReq := typ == "batch" || typ == "transaction" || typ == "history"
	switch _, ok := e["request"]; {
	case ok && !wantReq:
		v.invariant("request", "bdl-3", "entry.request only in a batch, transaction or history")
	case !ok && wantReq:
		v.invariant("", "bdl-3", "entry.request is mandatory in a batch, transaction or history")
	}
	wantResp := typ == "batch-response" || typ == "transaction-response" || typ == "history"
	switch _, ok := e["response"]; {
	case ok && !wantResp:
		v.invariant("response", "bdl-4", "entry.response only in a batch-response, transaction-response or history")
	case !ok && wantResp:
		v.invariant("", "bdl-4", "entry.response is mandatory in a batch-response, transaction-response or history")
	}
}

// uniqueFullURL checks bdl-7: fullUrl (with the resource's meta.versionId)
// is unique except in a history. seen is allocated on the first fullUrl.
func uniqueFullURL(v *schemaWalk, typ string, e map[string]any, seen map[string]bool) map[string]bool {
	url, ok := e["fullUrl"].(string)
	if !ok || typ == "history" {
		return seen
	}
	res, _ := e["resource"].(map[string]any)
	meta, _ := res["meta"].(map[string]any)
	version, _ := meta["versionId"].(string)
	key := url + "\x00" + version
	if seen == nil {
		seen = map[string]bool{}
	}
	if seen[key] {
		v.invariant("fullUrl", "bdl-7", "fullUrl must be unique in a bundle, or else entries with the same fullUrl must have different meta.versionId")
	}
	seen[key] = true
	return seen
}

// bundleDocument checks bdl-9 to bdl-12 (documents and messages).
func bundleDocument(v *schemaWalk, typ string, b map[string]any, entries []any) {
	first := ""
	if len(entries) > 0 {
		e, _ := entries[0].(map[string]any)
		res, _ := e["resource"].(map[string]any)
		first, _ = res["resourceType"].(string)
	}
	switch typ {
	case "document":
		id, _ := b["identifier"].(map[string]any)
		if !hasElem(id, "system") || !hasElem(id, "value") {
			v.invariant("", "bdl-9", "a document must have an identifier with a system and a value")
		}
		if !hasElem(b, "timestamp") {
			v.invariant("", "bdl-10", "a document must have a date (timestamp)")
		}
		if first != "Composition" {
			v.invariant("", "bdl-11", "a document must have a Composition as the first resource")
		}
	case "message":
		if first != "MessageHeader" {
			v.invariant("", "bdl-12", "a message must have a MessageHeader as the first resource")
		}
	}
}

// bdl5: an entry must have a resource unless it has a request or response.
func bdl5(v *schemaWalk, e map[string]any) {
	if !hasElem(e, "resource") && !hasElem(e, "request") && !hasElem(e, "response") {
		v.invariant("", "bdl-5", "an entry must have a resource unless there's a request or response")
	}
}

// bdl8: fullUrl cannot be a version-specific reference.
func bdl8(v *schemaWalk, e map[string]any) {
	if url, ok := e["fullUrl"].(string); ok && strings.Contains(url, "/_history/") {
		v.invariant("fullUrl", "bdl-8", "fullUrl cannot be a version specific reference")
	}
}
