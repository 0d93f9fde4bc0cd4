package mockserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// drainLimit is how much of an oversized body is read and thrown away so a
// client still sending it reads the 413 instead of a reset connection.
// Beyond it the connection is simply closed.
const drainLimit = 16 << 20

// readBody reads at most MaxBodyBytes of the request body; tooLarge
// reports a body beyond that.
func readBody(r *http.Request) (body []byte, tooLarge bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false, nil
	}
	if r.ContentLength > MaxBodyBytes {
		_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
		return nil, true, nil
	}
	size := 512
	if r.ContentLength >= 0 {
		size = int(r.ContentLength) + 1 // +1 so reading to EOF needs no growth
	}
	buf := make([]byte, 0, size)
	for {
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxBodyBytes {
			_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
			return nil, true, nil
		}
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// knownParams are the token request parameters the mock understands
// (RFC 6749 §4.1.3, §6, §2.3.1; RFC 7636 §4.5; RFC 7521 §4.2).
var knownParams = map[string]bool{
	oauth.ParamGrantType: true, oauth.ParamCode: true, oauth.ParamRedirectURI: true,
	oauth.ParamClientID: true, oauth.ParamClientSecret: true, oauth.ParamRefreshToken: true,
	oauth.ParamScope: true, oauth.ParamCodeVerifier: true,
	// RFC 7521 §4.2: a client assertion (client_jwt.go).
	oauth.ParamClientAssertion: true, oauth.ParamClientAssertionType: true,
}

// parseForm turns a token request into single-valued parameters, or the
// error reply the request gets. The checks run in a fixed order: method,
// media type, size, syntax.
func (s *Server) parseForm(r *http.Request, body []byte, tooLarge bool, readErr error, q quirkSet) (map[string]string, *reply) {
	var vals url.Values
	switch {
	case r.Method == http.MethodPost:
	case r.Method == http.MethodGet && q.On(rules.PostOnly.ID):
		// The fault: serve a GET, taking the parameters from the query.
		v, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, fail(oauth.ErrInvalidRequest, "malformed query string")
		}
		vals = v
	default:
		// RFC 6749 §3.2: "The client MUST use the HTTP "POST" method when
		// making access token requests."
		rep := fail(oauth.ErrInvalidRequest, "method "+r.Method+" is not allowed: use POST")
		rep.status = http.StatusMethodNotAllowed
		return nil, rep.withHeader("Allow", http.MethodPost)
	}
	if vals == nil {
		var rep *reply
		if vals, rep = s.parseBody(r, body, tooLarge, readErr, q); rep != nil {
			return nil, rep
		}
	}
	if q.On(rules.NoSecretInURI.ID) && r.Method == http.MethodPost {
		// The fault: take parameters, credentials included, from the URL.
		// RFC 6749 §2.3.1: "The parameters can only be transmitted in the
		// request-body and MUST NOT be included in the request URI."
		if qv, err := url.ParseQuery(r.URL.RawQuery); err == nil {
			for k, vs := range qv {
				vals[k] = append(vals[k], vs...)
			}
		}
	}
	return s.singleValued(vals, q)
}

// parseBody decodes the body by its media type.
func (s *Server) parseBody(r *http.Request, body []byte, tooLarge bool, readErr error, q quirkSet) (url.Values, *reply) {
	ct := r.Header.Get(oauth.HeaderContentType)
	mt := ct
	if ct != oauth.MediaForm {
		mt, _, _ = mime.ParseMediaType(ct)
	}
	asJSON := false
	switch {
	case mt == oauth.MediaForm:
	case mt == oauth.MediaJSON && q.On(rules.FormEncoded.ID):
		// The fault: accept a JSON body. RFC 6749 §4.1.3: the client sends
		// the parameters "using the application/x-www-form-urlencoded format".
		asJSON = true
	case q.On(rules.WrongContentType.ID):
		// The fault: read the body as a form whatever it is labelled.
	default:
		if ct == "" {
			return nil, fail(oauth.ErrInvalidRequest, "Content-Type is missing: send the parameters as application/x-www-form-urlencoded")
		}
		return nil, fail(oauth.ErrInvalidRequest, "Content-Type "+ct+" is not accepted: send the parameters as application/x-www-form-urlencoded")
	}
	if tooLarge {
		if q.On(rules.HugeBody.ID) {
			return nil, &reply{status: http.StatusInternalServerError, members: []member{{"error", "server_error"}}}
		}
		rep := fail(oauth.ErrInvalidRequest, fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes))
		rep.status = http.StatusRequestEntityTooLarge
		return nil, rep
	}
	if readErr != nil {
		return nil, fail(oauth.ErrInvalidRequest, "the request body could not be read")
	}
	if asJSON {
		return jsonParams(body)
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fail(oauth.ErrInvalidRequest, "malformed application/x-www-form-urlencoded body")
	}
	return vals, nil
}

// jsonParams reads a flat JSON object of scalars as parameters.
func jsonParams(body []byte) (url.Values, *reply) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fail(oauth.ErrInvalidRequest, "malformed JSON body")
	}
	vals := url.Values{}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			vals.Set(k, v)
		case json.Number:
			vals.Set(k, v.String())
		case bool:
			vals.Set(k, strconv.FormatBool(v))
		case nil:
			vals.Set(k, "")
		default:
			return nil, fail(oauth.ErrInvalidRequest, "JSON parameter "+k+" is not a scalar")
		}
	}
	return vals, nil
}

// singleValued applies RFC 6749 §3.2 to the parsed parameters.
func (s *Server) singleValued(vals url.Values, q quirkSet) (map[string]string, *reply) {
	for k, vs := range vals {
		valid := utf8.ValidString(k)
		for _, v := range vs {
			valid = valid && utf8.ValidString(v)
		}
		if !valid {
			if q.On(rules.InvalidUTF8.ID) {
				// The fault: choke on malformed input.
				return nil, &reply{status: http.StatusInternalServerError, members: []member{{"error", "server_error"}}}
			}
			return nil, fail(oauth.ErrInvalidRequest, "parameters must be UTF-8")
		}
	}
	form := make(map[string]string, len(vals))
	for k, vs := range vals {
		// RFC 6749 §3.2: "Request and response parameters MUST NOT be
		// included more than once."
		if len(vs) > 1 && !q.On(rules.DuplicateParams.ID) {
			return nil, fail(oauth.ErrInvalidRequest, "parameter "+k+" is repeated: send each parameter once")
		}
		v := vs[0]
		// RFC 6749 §3.2: "Parameters sent without a value MUST be treated
		// as if they were omitted from the request."
		if v == "" && !q.On(rules.EmptyParamOmitted.ID) {
			continue
		}
		// RFC 6749 §3.2: "The authorization server MUST ignore
		// unrecognized request parameters."
		if !knownParams[k] && q.On(rules.UnknownParamsIgnored.ID) {
			return nil, fail(oauth.ErrInvalidRequest, "unknown parameter "+k)
		}
		form[k] = v
	}
	return form, nil
}

// parseBasic decodes HTTP Basic credentials. RFC 6749 §2.3.1: the client
// identifier and password are encoded with application/x-www-form-urlencoded
// before Basic encoding, so they are unescaped here.
func parseBasic(h string) (id, secret string, ok bool) {
	scheme, cred, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false
	}
	return id, secret, id != ""
}

// claimedClient is the client a request names, before anything is
// verified: the Basic user, else client_id in the body or the query. It
// selects the fixture client's quirks, which must be known before parsing.
func claimedClient(r *http.Request, body []byte) string {
	if h := r.Header.Get(oauth.HeaderAuthorization); h != "" {
		if id, _, ok := parseBasic(h); ok {
			return id
		}
	}
	if len(body) > 0 && body[0] == '{' {
		var obj struct {
			ClientID string `json:"client_id"`
		}
		if json.Unmarshal(body, &obj) == nil && obj.ClientID != "" {
			return obj.ClientID
		}
	}
	if vals, _ := url.ParseQuery(string(body)); vals.Get(oauth.ParamClientID) != "" {
		return vals.Get(oauth.ParamClientID)
	}
	vals, _ := url.ParseQuery(r.URL.RawQuery)
	return vals.Get(oauth.ParamClientID)
}
