// Package redact is the only place secrets are masked. Every logger and
// report writer passes text through a Redactor before it leaves the process:
// client secrets, authorization codes, access and refresh tokens and PKCE
// verifiers are replaced, both by the parameter or field that carries them and
// by value, so a secret echoed somewhere unexpected is still caught.
package redact

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret. It names no part of the secret.
const Mask = "[REDACTED]"

// minSecretLen keeps short, common strings (like "1" or "abc") from being
// treated as secrets and masking half a report.
const minSecretLen = 6

// SecretParams are form parameters, JSON members and headers whose values
// are always secret.
var SecretParams = []string{
	"client_secret", "code", "refresh_token", "access_token", "code_verifier",
	"id_token", "password", "assertion", "client_assertion",
}

var secretHeaders = []string{"Authorization", "X-Api-Key", "X-Dressipi-Jwt", "Cookie", "Set-Cookie", "Proxy-Authorization"}

// jsonMember matches "name": "value" for each secret member.
var jsonMember = regexp.MustCompile(`("(?:` + strings.Join(SecretParams, "|") + `)"\s*:\s*)"(?:[^"\\]|\\.)*"`)

// formParam matches name=value inside query strings and form bodies.
var formParam = regexp.MustCompile(`(^|[?&\s])((?:` + strings.Join(SecretParams, "|") + `)=)[^&\s"]*`)

// Redactor masks known secret values and secret-bearing fields. The zero
// value is ready; it is safe for concurrent use.
type Redactor struct {
	mu     sync.RWMutex
	values []string // longest first so a secret containing another is masked whole
	// replacer masks every value in one pass; rebuilt lazily after Add, so
	// masking stays linear in the text however many secrets a run learns.
	replacer *strings.Replacer
}

// Default is the process-wide redactor used by loggers and report writers.
var Default = &Redactor{}

// Add registers secret values to mask wherever they appear. Their
// base64 forms are added too, since Basic credentials carry them encoded.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		r.values = append(r.values, s, url.QueryEscape(s))
	}
	sort.Slice(r.values, func(i, j int) bool {
		if len(r.values[i]) != len(r.values[j]) {
			return len(r.values[i]) > len(r.values[j])
		}
		return r.values[i] < r.values[j]
	})
	r.values = compact(r.values)
	r.replacer = nil
}

// AddBasic registers the Basic credential of id:secret.
func (r *Redactor) AddBasic(id, secret string) {
	if secret == "" {
		return
	}
	cred := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	r.Add(base64.StdEncoding.EncodeToString([]byte(cred)), base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i > 0 && v == s[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

// String masks secrets in s.
func (r *Redactor) String(s string) string {
	if r == nil {
		r = Default
	}
	s = jsonMember.ReplaceAllString(s, `$1"`+Mask+`"`)
	s = formParam.ReplaceAllString(s, `$1$2`+Mask)
	if rep := r.valueReplacer(); rep != nil {
		s = rep.Replace(s)
	}
	return s
}

func (r *Redactor) valueReplacer() *strings.Replacer {
	r.mu.RLock()
	rep, n := r.replacer, len(r.values)
	r.mu.RUnlock()
	if rep != nil || n == 0 {
		return rep
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.replacer == nil {
		// Longest first: strings.Replacer prefers earlier pairs at a position.
		pairs := make([]string, 0, 2*len(r.values))
		for _, v := range r.values {
			pairs = append(pairs, v, Mask)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r.replacer
}

// Header returns a copy of h with secret-bearing headers masked. The
// authentication scheme of Authorization is kept ("Basic [REDACTED]") since
// which method was used is evidence.
func (r *Redactor) Header(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		c := make([]string, len(vs))
		for i, v := range vs {
			c[i] = r.String(v)
		}
		out[k] = c
	}
	for _, k := range secretHeaders {
		vs := out.Values(k)
		for i, v := range vs {
			if scheme, _, ok := strings.Cut(v, " "); ok && k == "Authorization" {
				vs[i] = scheme + " " + Mask
			} else {
				vs[i] = Mask
			}
		}
	}
	return out
}

// String masks secrets in s with the Default redactor.
func String(s string) string { return Default.String(s) }
