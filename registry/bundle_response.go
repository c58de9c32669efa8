package registry

import (
	"fmt"
	"net/http"
	"strconv"

	"idem/registry/fhir"
)

// responseBundle builds the transaction-response or batch-response Bundle,
// one entry per request entry, in request order.
func responseBundle(typ string, entries []*entry, opts BundleOptions) map[string]any {
	list := make([]any, len(entries))
	for i, e := range entries {
		list[i] = responseEntry(e, opts)
	}
	b := map[string]any{"resourceType": "Bundle", "type": typ}
	if len(list) > 0 {
		b["entry"] = list
	}
	return b
}

func statusText(code int) string { return fmt.Sprintf("%d %s", code, http.StatusText(code)) }

func responseEntry(e *entry, opts BundleOptions) map[string]any {
	resp := map[string]any{}
	out := map[string]any{"response": resp}
	switch {
	case e.err != nil:
		resp["status"] = statusText(Status(e.err))
		resp["outcome"] = ErrorOutcome(e.err)
	case e.method == "GET":
		resp["status"] = statusText(200)
		out["resource"] = e.result
	case e.out == nil || e.out.Resource == nil:
		resp["status"] = statusText(204)
	default:
		r := e.out.Resource
		resp["status"] = statusText(e.out.Status())
		if r.Deleted {
			resp["status"] = statusText(204)
		}
		resp["etag"] = ETag(r.VersionID)
		resp["lastModified"] = FormatInstant(r.LastUpdated)
		if !r.Deleted {
			resp["location"] = r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
			out["fullUrl"] = opts.Base + "/" + r.Type + "/" + r.ID
		}
		if opts.Return == "representation" && !r.Deleted {
			if m, err := DecodeStored(r); err == nil {
				out["resource"] = m
			}
		}
		if opts.Return == "OperationOutcome" {
			resp["outcome"] = fhir.Information(fmt.Sprintf("%s %s/%s version %d", e.method, r.Type, r.ID, r.VersionID))
		}
	}
	return out
}

// ETag returns the weak ETag of a version: W/"3".
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }
