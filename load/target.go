package load

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/probe"
	"tokenharness/internal/target"
)

// FromTarget fills a run's endpoint and code source from the suite's run
// configuration (TARGET, CLIENT_ID, CLIENT_SECRET, CLIENT_AUTH,
// REDIRECT_URI, SCOPE, HEADERS, CODE_CMD, AUTHORIZE_URL, TIMEOUT, CA_FILE,
// INSECURE): the load side has no configuration of its own. Both URLs must
// be loopback unless allowRemote (ALLOW_REMOTE=1).
func FromTarget(tc target.Config, allowRemote bool) (Config, error) {
	if tc.Target == "" {
		return Config{}, errors.New("load: TARGET is empty: set it to the token endpoint URL")
	}
	for _, u := range []struct{ what, url string }{{"TARGET", tc.Target}, {"AUTHORIZE_URL", tc.AuthorizeURL}} {
		if err := CheckLoopback(u.what, u.url, allowRemote); err != nil {
			return Config{}, err
		}
	}
	opts := []probe.Option{probe.WithTimeout(tc.Timeout)}
	if tc.CAFile != "" {
		opts = append(opts, probe.WithCAFile(tc.CAFile))
	}
	if tc.Insecure {
		opts = append(opts, probe.WithInsecureSkipVerify())
	}
	pc, err := probe.New(opts...)
	if err != nil {
		return Config{}, fmt.Errorf("load: %w", err)
	}
	auth := tc.ClientAuth
	if auth == "" {
		auth = oauth.AuthBasic
		if tc.ClientSecret == "" {
			auth = oauth.AuthNone
		}
	}
	h := http.Header{}
	for k, v := range tc.Headers {
		h.Set(k, v)
	}
	if len(tc.Quirks) > 0 {
		// As the conformance run does: a mock started with
		// -quirks-from-header (make mock) switches these faults on for
		// every load request; any other server ignores the header.
		h.Set(oauth.HeaderQuirk, strings.Join(tc.Quirks, ","))
	}
	cfg := Config{
		Endpoint: Endpoint{TokenURL: tc.Target, ClientID: tc.ClientID, ClientSecret: tc.ClientSecret, Auth: auth,
			RedirectURI: tc.RedirectURI, Scope: tc.Scope, Header: h},
		CodeRequest: codes.Request{ClientID: tc.ClientID, RedirectURI: tc.RedirectURI, Scope: tc.Scope, Header: h},
		AllowRemote: allowRemote,
		TargetKind:  "external",
	}
	if tr, ok := pc.HTTP().Transport.(*http.Transport); ok {
		cfg.Endpoint.TLS = tr.TLSClientConfig
	}
	cfg.Params.Timeout = tc.Timeout
	switch {
	case tc.CodeCmd != "":
		cfg.Codes = codes.Command(tc.CodeCmd, codes.WithTimeout(tc.Timeout))
	case tc.AuthorizeURL != "":
		cfg.Codes = codes.Authorize(tc.AuthorizeURL, pc.HTTP())
	}
	// Without a code source Codes stays nil: the m2m profile needs none,
	// and every other profile refuses to run without one (errNoCodeSource).
	return cfg, nil
}
