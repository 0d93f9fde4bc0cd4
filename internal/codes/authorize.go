package codes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// DefaultAuthorizeTimeout bounds one authorization request.
const DefaultAuthorizeTimeout = 15 * time.Second

// AuthorizeSource asks an authorization endpoint that approves without a
// user (a test server's auto-consent endpoint, the bundled mock's
// /oauth/authorize) for codes.
type AuthorizeSource struct {
	url    string
	client *http.Client
}

// Authorize returns a Source that sends the RFC 6749 §4.1.1 authorization
// request to authorizeURL with client (nil: a plain http.Client) and reads
// the code from the redirect (§4.1.2). Redirects are never followed: the
// redirect URI need not be reachable, or even be http
// (urn:ietf:wg:oauth:2.0:oob:auto?code=…).
func Authorize(authorizeURL string, client *http.Client) *AuthorizeSource {
	var c http.Client
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &AuthorizeSource{url: authorizeURL, client: &c}
}

// Code requests one code; state must come back unchanged.
func (a *AuthorizeSource) Code(ctx context.Context, r Request) (string, error) {
	u, err := url.Parse(a.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fail(err, fmt.Sprintf("authorize: AUTHORIZE_URL %q is not an absolute http(s) URL", redact.String(a.url)))
	}
	q := u.Query()
	q.Set(oauth.ParamResponseType, oauth.ParamCode)
	for _, p := range []struct{ name, value string }{
		{oauth.ParamClientID, r.ClientID},
		{oauth.ParamRedirectURI, r.RedirectURI},
		{oauth.ParamState, r.State},
		{oauth.ParamScope, r.Scope},
		{oauth.ParamCodeChallenge, r.Challenge},
		{oauth.ParamCodeChallengeMethod, r.Method},
		{oauth.ParamDPoPJKT, r.DPoPJKT},
	} {
		if p.value != "" {
			q.Set(p.name, p.value)
		}
	}
	u.RawQuery = q.Encode()

	ctx, cancel := context.WithTimeout(ctx, DefaultAuthorizeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fail(err, "authorize: building the request: "+err.Error())
	}
	for k, vs := range r.Header {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return "", fail(err, fmt.Sprintf("authorize: GET %s: %v", redact.String(a.url), err))
	}
	defer resp.Body.Close()
	// Read a little for the error message, then let the connection go.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))

	loc := resp.Header.Get("Location")
	if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
		var cause error = &oauth.HTTPStatusError{Status: resp.StatusCode}
		if oe := refusal(resp.StatusCode, body); oe != nil {
			// An OAuth refusal answered in place rather than redirected:
			// the caller can still tell which error the server gave.
			cause = errors.Join(oe, cause)
		}
		return "", fail(cause, fmt.Sprintf("authorize: AUTHORIZE_URL answered %d%s, want a 3xx redirect whose Location carries code and state "+
			"(AUTHORIZE_URL must approve without a user; otherwise use CODE_CMD)", resp.StatusCode, snippet(body)))
	}
	params := redirectParams(loc)
	if e := params.Get(oauth.ParamError); e != "" {
		oe := &oauth.Error{Code: e, Description: params.Get(oauth.ParamErrorDescription)}
		msg := "authorize: " + e
		if oe.Description != "" {
			msg += ": " + redact.String(oe.Description)
		}
		return "", fail(oe, msg)
	}
	if got := params.Get(oauth.ParamState); r.State != "" && got != r.State {
		return "", fail(nil, fmt.Sprintf("authorize: the redirect carries state %q, the request sent %q: the server must return state unchanged (RFC 6749 §4.1.2)", got, r.State))
	}
	code := params.Get(oauth.ParamCode)
	if code == "" {
		return "", fail(nil, fmt.Sprintf("authorize: the redirect to %s carries no code", redact.String(loc)))
	}
	return code, nil
}

// redirectParams reads the parameters of a redirect URI by hand rather than
// with url.Parse, so that non-http URIs such as
// urn:ietf:wg:oauth:2.0:oob:auto?code=… work too. The query wins; a
// fragment is read when the query has neither code nor error.
func redirectParams(loc string) url.Values {
	rest, frag, _ := strings.Cut(loc, "#")
	_, query, _ := strings.Cut(rest, "?")
	q, _ := url.ParseQuery(query)
	if q.Get(oauth.ParamCode) == "" && q.Get(oauth.ParamError) == "" && frag != "" {
		if f, err := url.ParseQuery(frag); err == nil {
			return f
		}
	}
	return q
}

// snippet is the start of an error body on one line, redacted.
// refusal reads an OAuth error from a 4xx answer to the authorization
// request: a JSON object with "error", or a body that is nothing but an
// error code (as some servers write it with a plain-text error page).
func refusal(status int, body []byte) *oauth.Error {
	if status < 400 || status >= 500 {
		return nil
	}
	var obj struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &obj) == nil && obj.Error != "" {
		return &oauth.Error{Code: obj.Error, Description: obj.Description, Status: status}
	}
	if code := strings.TrimSpace(string(body)); errorCode.MatchString(code) {
		return &oauth.Error{Code: code, Status: status}
	}
	return nil
}

// errorCode is the shape of an OAuth error code: lower-case words joined
// by underscores (invalid_request, access_denied, ...).
var errorCode = regexp.MustCompile(`^[a-z]+(_[a-z]+)+$`)

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return " (" + redact.String(s) + ")"
}
