package matching

import "strings"

// NormalizeFacilityName returns the comparable form of an organisation or
// facility name: Normalize'd, with the abbreviations registration systems
// use written out (ST → saint, HOSP → hospital, CTR → center, MED →
// medical, …), "&" read as "and", and words that do not tell one site from
// another dropped: legal suffixes (Inc, LLC, Corp, …) and a leading "the".
// "St. Mary's Hosp. Inc" and "Saint Marys Hospital" agree.
func NormalizeFacilityName(s string) string {
	n := Normalize(strings.ReplaceAll(s, "&", " and "))
	words := strings.Fields(n)
	out := words[:0]
	for i, w := range words {
		if long, ok := facilityWords[w]; ok {
			w = long
		}
		if legalSuffixes[w] || (i == 0 && w == "the" && len(words) > 1) {
			continue
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return n // a name that is nothing but a suffix keeps it
	}
	return strings.Join(out, " ")
}

// facilityWords maps abbreviations of the words of facility names to the
// word; abbreviations that are common words of such names themselves are
// left out.
var facilityWords = map[string]string{
	"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort",
	"hosp": "hospital", "hospt": "hospital", "hsp": "hospital",
	"ctr": "center", "cntr": "center", "cent": "center", "centre": "center",
	"med": "medical", "medcl": "medical",
	"comm": "community", "cmty": "community", "commun": "community",
	"lab": "laboratory", "labs": "laboratories",
	"hlth": "health", "hlthcare": "healthcare",
	"clin": "clinic", "clnc": "clinic",
	"reg": "regional", "rgnl": "regional",
	"mem": "memorial", "meml": "memorial", "mmrl": "memorial",
	"univ":  "university",
	"assoc": "associates", "assocs": "associates",
	"svc": "services", "svcs": "services", "serv": "services",
	"dept": "department", "dpt": "department",
	"emerg": "emergency", "er": "emergency",
	"pharm": "pharmacy", "phcy": "pharmacy", "rx": "pharmacy",
	"rehab": "rehabilitation",
	"natl":  "national", "inst": "institute",
	"ped": "pediatrics", "peds": "pediatrics",
	"fam": "family", "prac": "practice",
	"diag": "diagnostic", "img": "imaging",
	"ctrs": "centers", "hosps": "hospitals",
	"nrsg": "nursing", "nurs": "nursing",
	"sr": "senior", "gen": "general",
}

// legalSuffixes are the words of a company's legal form.
var legalSuffixes = map[string]bool{
	"inc": true, "incorporated": true, "llc": true, "llp": true, "ltd": true, "limited": true,
	"corp": true, "corporation": true, "co": true, "company": true, "pc": true, "pllc": true,
	"pa": true, "plc": true, "gmbh": true, "ag": true, "bv": true, "sa": true, "lp": true,
}
