package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Exchange is one token-endpoint request and what came back, as plain data
// that checks can judge and reports can show once redacted.
type Exchange struct {
	// Step names the request's role in its rule's flow ("redeem code", "replay code").
	Step     string        `json:"step"`
	Request  Request       `json:"request"`
	Response *Response     `json:"response,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Class is the failure class when the exchange did not complete normally
	// (timeout, conn_cut, body_too_large, redirect_loop, tls, refused); empty otherwise.
	Class string `json:"class,omitempty"`
	// Err is the transport error, if any.
	Err string `json:"error,omitempty"`
}

// Request is the request as sent.
type Request struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	Body   string      `json:"body,omitempty"`
}

// Response is the response as received; Body is capped by the sender.
type Response struct {
	Status    int         `json:"status"`
	Header    http.Header `json:"header,omitempty"`
	Body      []byte      `json:"-"`
	Truncated bool        `json:"truncated,omitempty"`
}

// MarshalJSON shows the body as text so reports stay readable.
func (r *Response) MarshalJSON() ([]byte, error) {
	type plain Response
	return json.Marshal(struct {
		*plain
		Body string `json:"body,omitempty"`
	}{(*plain)(r), string(r.Body)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Response) UnmarshalJSON(b []byte) error {
	type plain Response
	aux := struct {
		*plain
		Body string `json:"body,omitempty"`
	}{plain: (*plain)(r)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	r.Body = []byte(aux.Body)
	return nil
}

// ErrNoResponse is returned by Exchange accessors when nothing came back.
var ErrNoResponse = errors.New("no response")

// Got returns the response or an error describing why there is none.
func (x *Exchange) Got() (*Response, error) {
	if x == nil {
		return nil, ErrNoResponse
	}
	if x.Response == nil {
		if x.Class != "" {
			return nil, fmt.Errorf("%w (%s): %s", ErrNoResponse, x.Class, x.Err)
		}
		return nil, fmt.Errorf("%w: %s", ErrNoResponse, x.Err)
	}
	return x.Response, nil
}

// MediaType returns the response's media type without parameters, lower-cased.
func (r *Response) MediaType() string {
	mt, _, err := mime.ParseMediaType(r.Header.Get(HeaderContentType))
	if err != nil {
		return strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get(HeaderContentType), ";")[0]))
	}
	return mt
}

// Object decodes the body as one JSON object, keeping numbers as json.Number
// so a check can tell 3600 from "3600".
func (r *Response) Object() (map[string]any, error) {
	if r.Truncated {
		return nil, errors.New("body exceeded the size cap")
	}
	if !utf8.Valid(r.Body) {
		return nil, errors.New("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("body holds more than one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("body is JSON %s, not an object", jsonKind(v))
	}
	return obj, nil
}

// String returns the string member name of the body object, if it is one.
func (r *Response) String(name string) (string, bool) {
	obj, err := r.Object()
	if err != nil {
		return "", false
	}
	s, ok := obj[name].(string)
	return s, ok
}

// ErrorCode returns the "error" member of an error response, or "".
func (r *Response) ErrorCode() string {
	s, _ := r.String(ParamError)
	return s
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// JSONKind names the JSON type of a decoded value ("string", "number", ...).
func JSONKind(v any) string { return jsonKind(v) }

// Summary is x on one line for consoles and JUnit: step, request line and
// the status with the start of the body, or the transport failure. It shows
// x as it is, so callers pass exchanges that are already redacted.
func (x *Exchange) Summary() string {
	s := fmt.Sprintf("%s: %s %s", x.Step, x.Request.Method, x.Request.URL)
	if x.Response != nil {
		return s + fmt.Sprintf(" -> %d %s", x.Response.Status, OneLine(string(x.Response.Body), 200))
	}
	return s + fmt.Sprintf(" -> no response (%s) %s", x.Class, x.Err)
}

// OneLine collapses s's whitespace and cuts it to n bytes (on a rune
// boundary), for a body shown on one line of a console or a report.
func OneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
