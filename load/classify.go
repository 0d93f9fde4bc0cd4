package load

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/probe"
)

// Failure classes of a result, by HTTP status and OAuth error code, so that
// a rate limit sent as 503 or 500 (load/LOAD.md §8) and an expected race loser
// are told apart from a broken server.
const (
	ClassOK            = "ok"
	ClassInvalidGrant  = "invalid_grant"
	ClassInvalidClient = "invalid_client"
	ClassOtherOAuth    = "other_oauth" // any other §5.2 error code
	Class4xx           = "4xx"         // a 4xx without an OAuth error body
	Class429           = "429"
	Class5xx           = "5xx"
	Class3xx           = "3xx"
	ClassBadResponse   = "bad_response" // 2xx without a usable token response
	// The response and transport classes are the conformance side's
	// (internal/probe), so one failure has one name in every report.
	ClassNotJSON = probe.ClassNotJSON
	// ClassBodyTooLarge is a response cut at the size cap (maxMintBody):
	// no token response is that big.
	ClassBodyTooLarge = probe.ClassBodyTooLarge
	ClassTimeout      = probe.ClassTimeout
	ClassRefused      = probe.ClassRefused
	ClassConnCut      = probe.ClassConnCut // reset, cut, closed mid-exchange
	ClassTransport    = probe.ClassTransport
	// ClassPoolExhausted is a scheduled request that had no live token to
	// send. It was not sent, so it is the harness's shortfall, not the
	// server's failure: it is counted as unsent, and too many make the run
	// invalid (maxUnsentShare) rather than failing the server.
	ClassPoolExhausted = "pool_exhausted"
)

// Note is something about a result that correctness figures count; a
// result may carry several.
type Note uint16

const (
	// NoteRaceLoser: invalid_grant for a refresh whose token another
	// member of its race group spent; expected, not a failure.
	NoteRaceLoser Note = 1 << iota
	// NoteRotated: a successful refresh that returned a new refresh token.
	NoteRotated
	// NoteDeadAfterRefresh: a token from a successful rotation rejected on
	// its first use.
	NoteDeadAfterRefresh
	// NoteDuplicateAccessToken: an access token the run had already seen.
	NoteDuplicateAccessToken
	// NoteSameRotation: a race winner that received the same new refresh
	// token as an earlier winner of its group: one rotation answered twice.
	NoteSameRotation
	// NoteSameRefreshToken: a successful refresh that returned the refresh
	// token it sent (not rotated; a refresh that returned none has neither
	// this nor NoteRotated).
	NoteSameRefreshToken
	// NoteSpentRotated: a refresh that spent, on its first use, a refresh
	// token a successful rotation issued, and got an answer about it (a
	// success or invalid_grant): the evidence dead_after_refresh needs.
	NoteSpentRotated
	// NoteDPoPBound and NoteDPoPNotBound: an access token issued for a
	// request carrying a DPoP proof, with token_type DPoP or another
	// (RFC 9449 §5).
	NoteDPoPBound
	NoteDPoPNotBound
)

var noteNames = []struct {
	n    Note
	name string
}{
	{NoteRaceLoser, "race_loser"},
	{NoteRotated, "rotated"},
	{NoteDeadAfterRefresh, "dead_after_refresh"},
	{NoteDuplicateAccessToken, "duplicate_access_token"},
	{NoteSameRotation, "same_rotation"},
	{NoteSameRefreshToken, "same_refresh_token"},
	{NoteSpentRotated, "spent_rotated"},
	{NoteDPoPBound, "dpop_bound"},
	{NoteDPoPNotBound, "dpop_not_bound"},
}

// Has reports whether every note of o is in n.
func (n Note) Has(o Note) bool { return n&o == o }

// String lists the notes comma-separated: "rotated,duplicate_access_token".
func (n Note) String() string { return string(n.appendTo(nil)) }

// appendTo appends String's text to b without allocating: encode runs once
// per response, on the goroutine that reads every result.
func (n Note) appendTo(b []byte) []byte {
	first := true
	for _, nn := range noteNames {
		if n.Has(nn.n) {
			if !first {
				b = append(b, ',')
			}
			b, first = append(b, nn.name...), false
		}
	}
	return b
}

func parseNotes(s string) Note {
	var n Note
	for _, part := range strings.Split(s, ",") {
		for _, nn := range noteNames {
			if part == nn.name {
				n |= nn.n
			}
		}
	}
	return n
}

// AnnotationHeader carries the harness's verdict on each result inside
// results.bin. Response bodies are stripped before results are written
// (they hold live tokens, load/LOAD.md §6), and vegeta's Headers field is
// replaced by this one entry, so `tokenharness merge` can rebuild every
// figure of a run from its raw results alone:
//
//	Tokenharness-Result: class=invalid_grant note=race_loser lag_ns=1234
//
// class is one of the Class constants, note a comma-separated list of
// Note names, lag_ns the generator lag (scheduled → actual send) in ns.
const AnnotationHeader = "Tokenharness-Result"

// annotation is the harness's reading of one result.
type annotation struct {
	Class string
	Notes Note
	Lag   time.Duration // scheduled → actual send
}

func (a annotation) failed() bool {
	return a.Class != ClassOK && a.Class != ClassPoolExhausted && !a.Notes.Has(NoteRaceLoser)
}

func (a annotation) encode() string {
	b := make([]byte, 0, 64)
	b = append(b, "class="...)
	b = append(b, a.Class...)
	if a.Notes != 0 {
		b = append(b, " note="...)
		b = a.Notes.appendTo(b)
	}
	b = append(b, " lag_ns="...)
	b = strconv.AppendInt(b, int64(a.Lag), 10)
	return string(b)
}

func parseAnnotation(s string) (annotation, bool) {
	var a annotation
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "class":
			a.Class = v
		case "note":
			a.Notes = parseNotes(v)
		case "lag_ns":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return a, false
			}
			a.Lag = time.Duration(n)
		}
	}
	return a, a.Class != ""
}

// classifyTransport names a transport failure from Go's error text.
func classifyTransport(err string) string {
	switch {
	case strings.Contains(err, "Client.Timeout") || strings.Contains(err, "deadline exceeded") || strings.Contains(err, "i/o timeout"):
		return ClassTimeout
	case strings.Contains(err, "connection refused"):
		return ClassRefused
	case strings.Contains(err, "connection reset") || strings.Contains(err, "EOF") || strings.Contains(err, "broken pipe"):
		return ClassConnCut
	}
	return ClassTransport
}

// tokenResponse is what the harness reads from a response body.
type tokenResponse struct {
	AccessToken  string
	RefreshToken string
	Error        string
}

// classifyResponse reads a response's status and body.
func classifyResponse(code uint16, body []byte) (string, tokenResponse) {
	var tr tokenResponse
	switch {
	case code >= 200 && code < 300:
		if len(body) >= maxMintBody {
			return ClassBodyTooLarge, tr
		}
		// Validate before the fast member scan below: a truncated or
		// malformed body can still contain "access_token":"...".
		if !looksJSONObject(body) || !json.Valid(body) {
			return ClassNotJSON, tr
		}
		var ok bool
		if tr.AccessToken, ok = jsonString(body, oauth.ParamAccessToken); !ok || tr.AccessToken == "" {
			return ClassBadResponse, tr
		}
		tr.RefreshToken, _ = jsonString(body, oauth.ParamRefreshToken)
		return ClassOK, tr
	case code == 429:
		return Class429, tr
	case code >= 500:
		return Class5xx, tr
	case code >= 400:
		tr.Error, _ = jsonString(body, oauth.ParamError)
		switch tr.Error {
		case "":
			return Class4xx, tr
		case oauth.ErrInvalidGrant.Code:
			return ClassInvalidGrant, tr
		case oauth.ErrInvalidClient.Code:
			return ClassInvalidClient, tr
		}
		return ClassOtherOAuth, tr
	case code >= 300:
		return Class3xx, tr
	}
	return ClassBadResponse, tr
}

func looksJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// jsonString finds the string member name of a JSON object without
// decoding the whole body: the capture path runs once per response and its
// time counts against the generator (load/LOAD.md §3). Escapes, or anything
// unusual, fall back to encoding/json.
func jsonString(body []byte, name string) (string, bool) {
	rest := body
	for {
		i := bytes.Index(rest, []byte(`"`+name+`"`))
		if i < 0 {
			return "", false
		}
		rest = rest[i+len(name)+2:]
		j := 0
		for j < len(rest) && isSpace(rest[j]) {
			j++
		}
		if j == len(rest) || rest[j] != ':' {
			continue // the name appeared as a value, not as a key
		}
		j++
		for j < len(rest) && isSpace(rest[j]) {
			j++
		}
		if j == len(rest) || rest[j] != '"' {
			return slowJSONString(body, name)
		}
		v := rest[j+1:]
		end := bytes.IndexByte(v, '"')
		if end < 0 {
			return "", false
		}
		if bytes.IndexByte(v[:end], '\\') >= 0 {
			return slowJSONString(body, name)
		}
		return string(v[:end]), true
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func slowJSONString(body []byte, name string) (string, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return "", false
	}
	var s string
	if json.Unmarshal(m[name], &s) != nil {
		return "", false
	}
	return s, true
}
