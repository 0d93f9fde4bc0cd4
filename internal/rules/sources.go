package rules

// Source documents.
const (
	rfc6749URL    = "https://www.rfc-editor.org/rfc/rfc6749"
	rfc7636URL    = "https://www.rfc-editor.org/rfc/rfc7636"
	rfc9700URL    = "https://www.rfc-editor.org/rfc/rfc9700"
	rfc7523URL    = "https://www.rfc-editor.org/rfc/rfc7523"
	oidcCoreURL   = "https://openid.net/specs/openid-connect-core-1_0.html"
	oidcCoreDoc   = "OpenID Connect Core 1.0"
	oauth21URL    = "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1"
	oauth21Doc    = "draft-ietf-oauth-v2-1"
	commoninjaDoc = "commoninja token endpoint"
	dressipiDoc   = "dressipi token endpoint"
	harnessDoc    = "tokenharness robustness"
)

func rfc6749(section, quote string) Source {
	return Source{Doc: "RFC 6749", Section: section, URL: rfc6749URL + "#section-" + section, Quote: quote}
}

func rfc7636(section, quote string) Source {
	return Source{Doc: "RFC 7636", Section: section, URL: rfc7636URL + "#section-" + section, Quote: quote}
}

func rfc9700(section, quote string) Source {
	return Source{Doc: "RFC 9700", Section: section, URL: rfc9700URL + "#section-" + section, Quote: quote}
}

func rfc7523(section, quote string) Source {
	return Source{Doc: "RFC 7523", Section: section, URL: rfc7523URL + "#section-" + section, Quote: quote}
}

// oidcCore cites OpenID Connect Core 1.0 (incorporating errata set 2).
func oidcCore(section, quote string) Source {
	return Source{Doc: oidcCoreDoc, Section: section, URL: oidcCoreURL + "#ClientAuthentication", Quote: quote}
}

// oauth21 cites the OAuth 2.1 draft's editor's copy (see traceability.yaml
// for the revision the quotes were taken from).
func oauth21(section, quote string) Source {
	return Source{Doc: oauth21Doc, Section: section, URL: oauth21URL + "#section-" + section, Quote: quote}
}

func commoninja(section, quote string) Source {
	return Source{Doc: commoninjaDoc, Section: section, Quote: quote}
}

func dressipi(section, quote string) Source {
	return Source{Doc: dressipiDoc, Section: section, Quote: quote}
}

func harness(section, quote string) Source {
	return Source{Doc: harnessDoc, Section: section, Quote: quote}
}
