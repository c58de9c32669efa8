package matching

// rule names what decided a comparison's level; it is a small number so
// that outcomes stay small and copying them stays cheap, and its text is
// only looked up for evidence.
type rule uint8

const (
	rNone rule = iota
	rSameName
	rNickname
	rSpacing
	rJWClose
	rPhonetic
	rJWSimilar
	rInitial
	rDifferentNames
	rSameText
	rGramsClose
	rGramsSimilar
	rDifferentText
	rSameValue
	rDifferentValues
	rOneTypo
	rDistrict
	rMailbox
	rSameID
	rLocalIDs
	rDifferentID
	rFar
	rNear
	rCloseBy
	rSameArea
	rSameDate
	rDayMonth
	rOneDigit
	rYearOff
	rDifferentDates
	rPartialAgree
	rPartialDiffer
	rSwapped
	rSameAddress
	rSameStreet
	rSameTown
	rDifferentAddresses
	rSamePhone
	rPhoneTypo
	rDifferentPhones
	rTwins
	rInTwins
	rInHousehold
	rNicknameTypo
	rTownOnly
	rPartOfOther
	rNamesDisagree
	rQualifiersDiffer
	rPartOfSite
	rNoOwnWord
	rSupporting
	rCutShort
)

// ruleNames are the rules' texts in evidence.
var ruleNames = [...]string{
	rSameName:           "same name",
	rNickname:           "nickname",
	rSpacing:            "same letters, spaced differently",
	rJWClose:            "Jaro-Winkler ≥ close",
	rPhonetic:           "phonetic code",
	rJWSimilar:          "Jaro-Winkler ≥ similar",
	rInitial:            "initial",
	rDifferentNames:     "different names",
	rSameText:           "same text",
	rGramsClose:         "q-grams ≥ close",
	rGramsSimilar:       "q-grams ≥ similar",
	rDifferentText:      "different text",
	rSameValue:          "same value",
	rDifferentValues:    "different values",
	rOneTypo:            "one typo apart",
	rDistrict:           "same district",
	rMailbox:            "same mailbox name",
	rSameID:             "same system and value",
	rLocalIDs:           "local record numbers differ",
	rDifferentID:        "different value in one system",
	rFar:                "far apart",
	rNear:               "within exact distance",
	rCloseBy:            "within close distance",
	rSameArea:           "within similar distance",
	rSameDate:           "same date",
	rDayMonth:           "day and month swapped",
	rOneDigit:           "one digit apart",
	rYearOff:            "year one apart",
	rDifferentDates:     "different dates",
	rPartialAgree:       "partial dates agree",
	rPartialDiffer:      "partial dates differ",
	rSwapped:            "given and family swapped",
	rSameAddress:        "same address",
	rSameStreet:         "same street",
	rSameTown:           "same postal code or town only",
	rDifferentAddresses: "different addresses",
	rSamePhone:          "same phone number",
	rPhoneTypo:          "phone numbers one typo apart",
	rDifferentPhones:    "different phone numbers",
	rTwins:              "twin signature: same family name and birth date, unrelated given names",
	rInTwins:            "weighed in the twin signature",
	rInHousehold:        "weighed given the same household",
	rNicknameTypo:       "nickname of a misspelt name",
	rTownOnly:           "same town (no street or phone on one side: weighed as all a town can say)",
	rPartOfOther:        "one is part of the other",
	rNamesDisagree:      "disagrees: the match is capped below certain",
	rQualifiersDiffer:   "names differ in a qualifier (department, unit, number)",
	rPartOfSite:         "one name is the other's with a qualifier: a part of that site",
	rNoOwnWord:          "the names share only words for a kind of place",
	rCutShort:           "one name cut short: agrees only as far as it goes",
	rSupporting:         "agreement not counted: it follows from the field it supports",
}

// String returns the rule's text ("" for none).
func (r rule) String() string {
	if int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return ""
}
