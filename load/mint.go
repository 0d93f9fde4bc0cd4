package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// freshCode asks the suite's code source (CODE_CMD or AUTHORIZE_URL, see
// internal/codes) for one code bound to a new S256 PKCE pair. PKCE is always
// sent: a server that does not support it ignores the parameters (RFC 6749
// §3.1), and one that requires it (OAuth 2.1) needs them.
func freshCode(ctx context.Context, src codes.Source, base codes.Request) (Code, error) {
	verifier, err := codes.NewVerifier()
	if err != nil {
		return Code{}, fmt.Errorf("load: PKCE verifier: %w", err)
	}
	state, err := codes.NewVerifier()
	if err != nil {
		return Code{}, fmt.Errorf("load: state: %w", err)
	}
	r := base
	r.State = state[:24]
	r.Method = oauth.PKCES256
	if r.Challenge, err = codes.Challenge(verifier, oauth.PKCES256); err != nil {
		return Code{}, fmt.Errorf("load: PKCE challenge: %w", err)
	}
	c, err := src.Code(ctx, r)
	if err != nil {
		return Code{}, fmt.Errorf("load: %w", err)
	}
	return Code{Code: c, Verifier: verifier}, nil
}

// ErrNoRefreshToken is wrapped when a code exchange succeeds without a
// refresh token: nothing to load-test refreshes with.
var ErrNoRefreshToken = errors.New("load: the target issued no refresh_token for a code exchange")

// maxMintBody caps a minting response; token responses are small.
const maxMintBody = 64 << 10

// mintRefresh redeems a fresh code for a refresh token, through the same
// request encoding the load uses, so minting proves the configuration
// before the first scheduled request. Minted tokens are not registered with
// the redactor (thousands of values would slow every later String call);
// nothing here prints one, and error bodies are masked by field name.
func mintRefresh(ctx context.Context, c *http.Client, req *requests, code Code) (string, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, req.url, bytes.NewReader(req.codeBody(code)))
	if err != nil {
		return "", fmt.Errorf("load: code exchange: %w", err)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	resp, err := c.Do(hr)
	if err != nil {
		return "", fmt.Errorf("load: code exchange: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMintBody))
	if err != nil {
		return "", fmt.Errorf("load: code exchange: read response: %w", err)
	}
	class, tr := classifyResponse(uint16(resp.StatusCode), body)
	switch {
	case class != ClassOK:
		return "", fmt.Errorf("load: code exchange: status %d, class %s: %s", resp.StatusCode, class, redact.String(string(body)))
	case tr.RefreshToken == "":
		return "", ErrNoRefreshToken
	}
	return tr.RefreshToken, nil
}
