package mockserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// member is one top-level JSON member of a response body, kept in order.
type member struct {
	name  string
	value any // string, int64, or anything encoding/json can encode
}

// reply is a token-endpoint response as data: handlers build it, the one
// writer below sends it, and wire faults edit it in between. Keeping the
// response as data until the end is what lets a fault declared on a rule
// (drop a header, stringify a member, replace the status) apply to every
// handler without buffering on the hot path.
type reply struct {
	status  int
	grant   string // the request's grant_type, for rules.Fault.Applies
	members []member
	header  [][2]string // extra headers: WWW-Authenticate, Allow
	// body, when set by a fault, replaces the encoded members.
	body    string
	bodySet bool
	// errCode and desc are kept for logs.
	errCode string
}

func success(grant string, members ...member) *reply {
	return &reply{status: http.StatusOK, grant: grant, members: members}
}

// fail builds a §5.2 error reply. The description is forced into the
// characters §5.2 allows, so no handler can break ERROR-CHARSET by accident.
func fail(e *oauth.Error, desc string) *reply {
	desc = errorText(desc)
	r := &reply{status: e.Status, errCode: e.Code, members: []member{{oauth.ParamError, e.Code}}}
	if desc != "" {
		r.members = append(r.members, member{oauth.ParamErrorDescription, desc})
	}
	return r
}

// errorText replaces every character RFC 6749 §5.2 does not allow in
// error_description (%x20-21 / %x23-5B / %x5D-7E) with '?', and caps the
// length so an echoed input cannot inflate a response.
func errorText(s string) string {
	const maxLen = 256
	clean := true
	for _, c := range s {
		if !oauth.ValidErrorChar(c) {
			clean = false
			break
		}
	}
	if clean && len(s) <= maxLen {
		return s
	}
	b := make([]byte, 0, min(len(s), maxLen))
	for _, c := range s {
		if len(b) >= maxLen {
			break
		}
		if oauth.ValidErrorChar(c) {
			b = append(b, byte(c))
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// desc is the error_description, if any.
func (r *reply) desc() string {
	d, _ := r.get(oauth.ParamErrorDescription)
	s, _ := d.(string)
	return s
}

func (r *reply) withHeader(name, value string) *reply {
	r.header = append(r.header, [2]string{name, value})
	return r
}

func (r *reply) get(name string) (any, bool) {
	for _, m := range r.members {
		if m.name == name {
			return m.value, true
		}
	}
	return nil, false
}

func (r *reply) set(name string, v any) {
	for i := range r.members {
		if r.members[i].name == name {
			r.members[i].value = v
			return
		}
	}
	r.members = append(r.members, member{name, v})
}

func (r *reply) drop(name string) {
	r.members = slices.DeleteFunc(r.members, func(m member) bool { return m.name == name })
}

// Header values shared by every response; net/http never writes into them
// and a fault that changes a header replaces the slice, never edits it.
var (
	hdrJSON    = []string{"application/json;charset=UTF-8"}
	hdrNoStore = []string{"no-store"}
	hdrNoCache = []string{"no-cache"}
)

// RFC 6749 §5.1: "The authorization server MUST include the HTTP
// "Cache-Control" response header field [RFC2616] with a value of
// "no-store" in any response containing tokens, credentials, or other
// sensitive information, as well as the "Pragma" response header field
// [RFC2616] with a value of "no-cache"." The mock sends both on errors too.
func (s *Server) write(w http.ResponseWriter, r *reply, q quirkSet) {
	h := w.Header()
	h[oauth.HeaderContentType] = hdrJSON
	h[oauth.HeaderCacheControl] = hdrNoStore
	h[oauth.HeaderPragma] = hdrNoCache
	for _, kv := range r.header {
		h.Set(kv[0], kv[1])
	}
	if len(q) > 0 {
		s.applyWireFaults(r, h, q)
	}
	buf := bufPool.Get().(*[]byte)
	b := (*buf)[:0]
	if r.bodySet {
		b = append(b, r.body...)
	} else {
		b = appendObject(b, r.members)
	}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(r.status)
	_, _ = w.Write(b)
	*buf = b
	if cap(b) <= 64<<10 {
		bufPool.Put(buf)
	}
}

// applyWireFaults is the one place wire faults are applied: for every
// active quirk whose rule declares a wire fault that touches this response,
// edit the response as the fault says. Which responses a fault touches is
// judged on the response as the handler produced it, so a fault that turns
// an error into a 200 does not drag success faults in with it.
func (s *Server) applyWireFaults(r *reply, h http.Header, q quirkSet) {
	status := r.status
	for _, id := range q {
		f := s.faults[id]
		if !f.Wire() || !f.Applies(status, r.grant) {
			continue
		}
		applyFault(f, r, h)
	}
}

func applyFault(f rules.Fault, r *reply, h http.Header) {
	if f.DropHeader != "" {
		h.Del(f.DropHeader)
	}
	if f.SetHeader[0] != "" {
		h.Set(f.SetHeader[0], f.SetHeader[1])
	}
	if f.DropField != "" {
		r.drop(f.DropField)
	}
	if f.SetField != "" {
		r.set(f.SetField, f.Value)
	}
	if f.StringifyField != "" {
		if v, ok := r.get(f.StringifyField); ok {
			r.set(f.StringifyField, stringify(v))
		}
	}
	if f.Status != 0 {
		r.status = f.Status
	}
	if f.Body != "" {
		r.body, r.bodySet = f.Body, true
	}
}

// stringify turns a JSON number into the string of its digits; other
// values are left alone.
func stringify(v any) any {
	switch n := v.(type) {
	case int64:
		return strconv.FormatInt(n, 10)
	case int:
		return strconv.Itoa(n)
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64)
	case json.Number:
		return n.String()
	}
	return v
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendObject encodes members as one JSON object. Strings and integers,
// which is all the handlers produce, are encoded by hand; values a fault
// sets (objects, floats, null) go through encoding/json.
func appendObject(b []byte, ms []member) []byte {
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.name)
		b = append(b, ':')
		switch v := m.value.(type) {
		case string:
			b = appendString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			enc, err := json.Marshal(v)
			if err != nil {
				enc = []byte("null")
			}
			b = append(b, enc...)
		}
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
