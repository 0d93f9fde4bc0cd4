package rules

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"tokenharness/internal/oauth"
)

// The check vocabulary. Each check says what it expects in Desc and, on
// failure, what it saw. They read only the exchange, never the server's code.

// onResponse builds a check that needs a response: an exchange without one
// (timeout, cut connection) fails it with the transport's failure class.
func onResponse(desc string, fn func(r *oauth.Response) error) Check {
	return Check{Desc: desc, Fn: func(x *oauth.Exchange) error {
		r, err := x.Got()
		if err != nil {
			return err
		}
		return fn(r)
	}}
}

// Success expects 200 with a JSON object carrying a non-empty access_token.
func Success() Check {
	return onResponse("200 with a JSON object carrying access_token", func(r *oauth.Response) error {
		if r.Status != 200 {
			return fmt.Errorf("got status %d%s", r.Status, errorSuffix(r))
		}
		obj, err := r.Object()
		if err != nil {
			return err
		}
		if s, ok := obj[oauth.ParamAccessToken].(string); !ok || s == "" {
			return errors.New("no non-empty string access_token in the response")
		}
		return nil
	})
}

// Rejected expects a §5.2 error response: status 400 or 401, a JSON object
// whose "error" is one of codes, no tokens. §5.2 wants 400 for every code
// but invalid_client; RFC6749-5.2-ERROR-STATUS-400 is the one rule that
// judges that, so a server answering 401 everywhere fails one rule, not
// twenty. Other statuses (403, 404, 422, ...) are not §5.2 responses.
func Rejected(codes ...*oauth.Error) Check {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = c.Code
	}
	return onResponse("rejected with error "+strings.Join(names, " or "), func(r *oauth.Response) error {
		if r.Status >= 200 && r.Status < 300 {
			return fmt.Errorf("got status %d: the request was accepted", r.Status)
		}
		if r.Status >= 500 {
			return fmt.Errorf("got server error %d", r.Status)
		}
		if r.Status != 400 && r.Status != 401 {
			return fmt.Errorf("got status %d, not a §5.2 error response (400, or 401 for invalid_client)", r.Status)
		}
		code := r.ErrorCode()
		if !slices.Contains(names, code) {
			if code == "" {
				return fmt.Errorf("got status %d with no JSON error member", r.Status)
			}
			return fmt.Errorf("got error %q (status %d)", code, r.Status)
		}
		return nil
	})
}

// NotIssued expects no tokens and no server error: any 4xx (or 3xx/405) is
// acceptable. For requests where the RFC fixes no error code.
func NotIssued() Check {
	return onResponse("no tokens issued, no server error", func(r *oauth.Response) error {
		if r.Status >= 500 {
			return fmt.Errorf("got server error %d", r.Status)
		}
		if s, ok := r.String(oauth.ParamAccessToken); ok && s != "" {
			return fmt.Errorf("got status %d with an access_token", r.Status)
		}
		if r.Status >= 200 && r.Status < 300 {
			return fmt.Errorf("got status %d", r.Status)
		}
		return nil
	})
}

// ClientError expects a 4xx status, answered in bounded time.
func ClientError() Check {
	return onResponse("a 4xx status, not a server error or a hang", func(r *oauth.Response) error {
		if r.Status < 400 || r.Status >= 500 {
			return fmt.Errorf("got status %d", r.Status)
		}
		return nil
	})
}

// Status expects one of the given statuses.
func Status(want ...int) Check {
	return onResponse(fmt.Sprintf("status in %v", want), func(r *oauth.Response) error {
		if !slices.Contains(want, r.Status) {
			return fmt.Errorf("got status %d", r.Status)
		}
		return nil
	})
}

// MediaType expects the response Content-Type's media type to be mt; any
// parameters (charset) are allowed.
func MediaType(mt string) Check {
	return onResponse("Content-Type "+mt, func(r *oauth.Response) error {
		if got := r.MediaType(); got != mt {
			return fmt.Errorf("got Content-Type %q", r.Header.Get(oauth.HeaderContentType))
		}
		return nil
	})
}

// HeaderToken expects header name to carry directive tok (case-insensitive,
// among comma-separated directives).
func HeaderToken(name, tok string) Check {
	return onResponse(fmt.Sprintf("%s: %s", name, tok), func(r *oauth.Response) error {
		for _, v := range r.Header.Values(name) {
			for _, d := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(d), tok) {
					return nil
				}
			}
		}
		if vs := r.Header.Values(name); len(vs) > 0 {
			return fmt.Errorf("got %s: %q", name, strings.Join(vs, ", "))
		}
		return fmt.Errorf("no %s header", name)
	})
}

// HeaderPresent expects header name to be present and non-empty.
func HeaderPresent(name string) Check {
	return onResponse(name+" header present", func(r *oauth.Response) error {
		if strings.TrimSpace(r.Header.Get(name)) == "" {
			return fmt.Errorf("no %s header", name)
		}
		return nil
	})
}

// JSONObject expects the body to be exactly one valid-UTF-8 JSON object.
func JSONObject() Check {
	return onResponse("body is one JSON object", func(r *oauth.Response) error {
		_, err := r.Object()
		return err
	})
}

// Field expects top-level member name to satisfy p.
func Field(name string, p Pred) Check {
	return onResponse(fmt.Sprintf("%q %s", name, p.Desc), func(r *oauth.Response) error {
		obj, err := r.Object()
		if err != nil {
			return err
		}
		v, ok := obj[name]
		if err := p.Fn(v, ok); err != nil {
			return err
		}
		return nil
	})
}

// ErrorChars expects "error" and "error_description" to use only the
// characters RFC 6749 §5.2 allows.
func ErrorChars() Check {
	return onResponse("error and error_description use only %x20-21 / %x23-5B / %x5D-7E", func(r *oauth.Response) error {
		obj, err := r.Object()
		if err != nil {
			return err
		}
		for _, k := range []string{oauth.ParamError, oauth.ParamErrorDescription} {
			s, ok := obj[k].(string)
			if !ok {
				continue
			}
			for _, c := range s {
				if !oauth.ValidErrorChar(c) {
					return fmt.Errorf("%s contains %q", k, c)
				}
			}
		}
		return nil
	})
}

// ErrorURIChars expects "error_uri", when present, to use only the
// characters RFC 6749 §5.2 allows in it (%x21 / %x23-5B / %x5D-7E: no
// space, quote or backslash).
func ErrorURIChars() Check {
	return onResponse("error_uri, when present, uses only %x21 / %x23-5B / %x5D-7E", func(r *oauth.Response) error {
		obj, err := r.Object()
		if err != nil {
			return err
		}
		v, ok := obj[oauth.ParamErrorURI]
		if !ok {
			return nil
		}
		s, isStr := v.(string)
		if !isStr {
			return fmt.Errorf("error_uri is %s %v, not a string", oauth.JSONKind(v), v)
		}
		for _, c := range s {
			if c == ' ' || !oauth.ValidErrorChar(c) {
				return fmt.Errorf("error_uri contains %q", c)
			}
		}
		return nil
	})
}

// NoDuplicateMembers expects the body's top-level JSON object to name each
// member once: a decoder keeps the last of two, a client may keep the first.
func NoDuplicateMembers() Check {
	return onResponse("no top-level member appears twice", func(r *oauth.Response) error {
		if _, err := r.Object(); err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		if _, err := dec.Token(); err != nil {
			return err
		}
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := t.(string)
			if seen[k] {
				return fmt.Errorf("member %q appears more than once", k)
			}
			seen[k] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
		return nil
	})
}

// Pred is a predicate on one JSON member: v is its value, ok whether present.
type Pred struct {
	Desc string
	Fn   func(v any, ok bool) error
}

// NonEmptyString: present and a non-empty string.
func NonEmptyString() Pred {
	return Pred{"is a non-empty string", func(v any, ok bool) error {
		if !ok {
			return errors.New("missing")
		}
		if s, isStr := v.(string); !isStr || s == "" {
			return fmt.Errorf("is %s %v", oauth.JSONKind(v), v)
		}
		return nil
	}}
}

// Present: the member exists.
func Present() Pred {
	return Pred{"is present", func(_ any, ok bool) error {
		if !ok {
			return errors.New("missing")
		}
		return nil
	}}
}

// Absent: the member does not exist.
func Absent() Pred {
	return Pred{"is absent", func(v any, ok bool) error {
		if ok {
			return fmt.Errorf("is present (%s)", oauth.JSONKind(v))
		}
		return nil
	}}
}

// NumberIfPresent: absent, or a JSON number.
func NumberIfPresent() Pred {
	return Pred{"is a JSON number when present", func(v any, ok bool) error {
		if _, isNum := v.(json.Number); ok && !isNum {
			return fmt.Errorf("is %s %v", oauth.JSONKind(v), v)
		}
		return nil
	}}
}

// PositiveInteger: present and a positive JSON integer.
func PositiveInteger() Pred {
	return Pred{"is a positive JSON integer", func(v any, ok bool) error {
		if !ok {
			return errors.New("missing")
		}
		n, isNum := v.(json.Number)
		if !isNum {
			return fmt.Errorf("is %s %v", oauth.JSONKind(v), v)
		}
		i, err := n.Int64()
		if err != nil || i <= 0 {
			return fmt.Errorf("is %s, not a positive integer", n)
		}
		return nil
	}}
}

// EqualFold: a string equal to want ignoring case.
func EqualFold(want string) Pred {
	return Pred{fmt.Sprintf("equals %q ignoring case", want), func(v any, ok bool) error {
		if !ok {
			return errors.New("missing")
		}
		if s, isStr := v.(string); !isStr || !strings.EqualFold(s, want) {
			return fmt.Errorf("is %s %v", oauth.JSONKind(v), v)
		}
		return nil
	}}
}

// JWT: a compact JWS whose header names alg (any algorithm but "none" when
// alg is empty) and whose claims include each of claims.
func JWT(alg string, claims ...string) Pred {
	desc := "is a signed JWT (any alg but none)"
	if alg != "" {
		desc = "is a " + alg + " JWT"
	}
	if len(claims) > 0 {
		desc += " with claims " + strings.Join(claims, ", ")
	}
	return Pred{desc, func(v any, ok bool) error {
		s, isStr := v.(string)
		if !ok || !isStr {
			return fmt.Errorf("is %s, not a string", oauth.JSONKind(v))
		}
		parts := strings.Split(s, ".")
		if len(parts) != 3 {
			return fmt.Errorf("has %d dot-separated parts, not 3", len(parts))
		}
		var hdr map[string]any
		if err := decodeSegment(parts[0], &hdr); err != nil {
			return fmt.Errorf("header: %w", err)
		}
		got, _ := hdr["alg"].(string)
		if alg != "" && got != alg || alg == "" && (got == "" || strings.EqualFold(got, "none")) {
			return fmt.Errorf("header alg is %v", hdr["alg"])
		}
		var body map[string]any
		if err := decodeSegment(parts[1], &body); err != nil {
			return fmt.Errorf("claims: %w", err)
		}
		for _, c := range claims {
			if _, has := body[c]; !has {
				return fmt.Errorf("claim %q missing", c)
			}
		}
		return nil
	}}
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return fmt.Errorf("not base64url: %w", err)
	}
	return json.Unmarshal(b, v)
}

func errorSuffix(r *oauth.Response) string {
	if c := r.ErrorCode(); c != "" {
		return " (error " + c + ")"
	}
	return ""
}

// Field value helpers for flows.

// Str returns member name of x's response body as a string, if it is one.
func Str(x *oauth.Exchange, name string) string {
	if x == nil || x.Response == nil {
		return ""
	}
	s, _ := x.Response.String(name)
	return s
}

// Won reports whether x issued tokens.
func Won(x *oauth.Exchange) bool { return Success().Fn(x) == nil }

// answerOf names what x got, coarsely enough that two answers to the same
// question compare equal: the status and the OAuth error code, or the
// transport failure. Tokens are never part of it.
func answerOf(x *oauth.Exchange) string {
	r, err := x.Got()
	if err != nil {
		return "no response (" + err.Error() + ")"
	}
	if c := r.ErrorCode(); c != "" {
		return fmt.Sprintf("status %d with error %s", r.Status, c)
	}
	return fmt.Sprintf("status %d", r.Status)
}

// errorCode is the OAuth error code x was answered with; "" when it has
// no response or none.
func errorCode(x *oauth.Exchange) string {
	if x == nil {
		return ""
	}
	r, err := x.Got()
	if err != nil {
		return ""
	}
	return r.ErrorCode()
}
