package mockserver

import (
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// The device authorization grant (RFC 8628): POST /oauth/device_authorization
// issues a device_code and user_code (§3.1–3.2); POST /oauth/device/verify is
// a test-only verification endpoint standing in for the user (§3.3): a form
// with user_code and decision=approve|deny; the token endpoint answers polls
// with the device_code grant (§3.4–3.5).

// Device endpoint paths.
const (
	PathDeviceAuthorization = "/oauth/device_authorization"
	PathDeviceVerify        = "/oauth/device/verify"
)

// Defaults for the device grant's settings a configuration leaves at zero.
const (
	DefaultDeviceCodeTTL  = 10 * time.Minute
	DefaultDeviceInterval = 5 * time.Second
	// deviceVariationExtra is how much longer device codes live under the
	// variations that make the client poll more slowly (slow_down, no
	// interval), so an approved code is still redeemable at the longer
	// interval.
	deviceVariationExtra = 8 * time.Second
	// slowDownTolerance: a poll this much early still counts as waiting
	// the interval, the client's clock and the network being what they are.
	slowDownTolerance = 100 * time.Millisecond
)

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
)

// deviceGrant is one device authorization session.
type deviceGrant struct {
	client   string
	scope    string
	userCode string
	expires  time.Time

	mu       sync.Mutex
	state    deviceState
	redeemed bool
	polls    int
	last     time.Time
	interval time.Duration // the interval the client must keep, slow_downs included
}

// deviceStore holds the device sessions by device_code and user_code. Its
// zero value is ready to use.
type deviceStore struct {
	mu     sync.Mutex
	byCode map[string]*deviceGrant
	byUser map[string]string
}

func (d *deviceStore) put(code string, g *deviceGrant) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byCode == nil {
		d.byCode, d.byUser = map[string]*deviceGrant{}, map[string]string{}
	}
	d.byCode[code] = g
	d.byUser[g.userCode] = code
}

func (d *deviceStore) get(code string) (*deviceGrant, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.byCode[code]
	return g, ok
}

func (d *deviceStore) byUserCode(user string) (*deviceGrant, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.byCode[d.byUser[user]]
	return g, ok
}

// sweep forgets sessions expired a minute ago (kept that long so a late
// poll still gets expired_token rather than invalid_grant).
func (d *deviceStore) sweep(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for code, g := range d.byCode {
		if now.After(g.expires.Add(time.Minute)) {
			delete(d.byCode, code)
			delete(d.byUser, g.userCode)
		}
	}
}

// userCodeChars are the user_code's characters: consonants only, as RFC
// 8628 §6.1 suggests, so no word is spelt and none is confused.
const userCodeChars = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = userCodeChars[int(b[i])%len(userCodeChars)]
	}
	return string(b[:4]) + "-" + string(b[4:])
}

// serveDeviceAuthorization is POST /oauth/device_authorization (RFC 8628
// §3.1–3.2). The client authenticates as at the token endpoint.
func (s *Server) serveDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	q, err := s.requestQuirks(r)
	if err != nil {
		s.write(w, fail(oauth.ErrInvalidRequest, err.Error()), nil)
		return
	}
	body, tooLarge, readErr := readBody(r)
	if s.clientQuirks {
		q = s.clientQuirksOf(q, claimedClient(r, body))
	}
	s.write(w, s.deviceAuthorization(r, body, tooLarge, readErr, q), nil)
}

func (s *Server) deviceAuthorization(r *http.Request, body []byte, tooLarge bool, readErr error, q quirkSet) *reply {
	form, rep := s.parseForm(r, body, tooLarge, readErr, nil)
	if rep != nil {
		return rep
	}
	c, rep := s.authenticate(r, form, nil)
	if rep != nil {
		return rep
	}
	if c == nil {
		return s.invalidClient(false, nil, "no client authentication: use client_secret_basic, client_secret_post, or client_id for a public client")
	}
	if !c.allows(oauth.GrantDeviceCode) {
		return fail(oauth.ErrUnauthorizedClient, "client "+c.ID+" may not use the device_code grant")
	}
	allowed, _ := parseScope(c.Scope)
	scope := strings.Join(allowed, " ")
	if asked, has := form[oauth.ParamScope]; has {
		want, ok := parseScope(asked)
		if !ok || !subset(want, allowed) {
			return fail(oauth.ErrInvalidScope, "requested scope exceeds the client's scope")
		}
		scope = strings.Join(want, " ")
	}
	ttl, interval := s.cfg.DeviceCodeTTL, s.cfg.DeviceInterval
	slowVariation, noInterval := q.On(rules.VarDeviceSlowDown.ID), q.On(rules.VarDeviceNoInterval.ID)
	if noInterval {
		interval = oauth.DefaultDeviceInterval * time.Second
	}
	if slowVariation || noInterval {
		ttl += deviceVariationExtra
	}
	code, user := randomToken(), newUserCode()
	s.device.put(code, &deviceGrant{client: c.ID, scope: scope, userCode: user, expires: s.now().Add(ttl), interval: interval})
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	ms := []member{
		{oauth.ParamDeviceCode, code},
		{oauth.ParamUserCode, user},
		{oauth.ParamVerificationURI, base + PathDeviceVerify},
		{oauth.ParamExpiresIn, seconds(ttl)},
	}
	if !noInterval {
		// RFC 8628 §3.2: interval is OPTIONAL; the variation leaves it
		// out, and the client must then wait 5 s.
		ms = append(ms, member{oauth.ParamInterval, seconds(interval)})
	}
	return success("", ms...)
}

// serveDeviceVerify is POST /oauth/device/verify: the user approves or
// denies a user_code (decision=approve|deny). Test-only: no user logs in.
func (s *Server) serveDeviceVerify(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rep := fail(oauth.ErrInvalidRequest, "method "+r.Method+" is not allowed: use POST")
		rep.status = http.StatusMethodNotAllowed
		s.write(w, rep.withHeader("Allow", http.MethodPost), nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.write(w, fail(oauth.ErrInvalidRequest, "malformed form"), nil)
		return
	}
	g, ok := s.device.byUserCode(r.PostForm.Get(oauth.ParamUserCode))
	if !ok {
		s.write(w, fail(oauth.ErrInvalidRequest, "unknown user_code"), nil)
		return
	}
	var to deviceState
	switch r.PostForm.Get("decision") {
	case "approve":
		to = deviceApproved
	case "deny":
		to = deviceDenied
	default:
		s.write(w, fail(oauth.ErrInvalidRequest, "decision must be approve or deny"), nil)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !s.now().Before(g.expires):
		s.write(w, fail(oauth.ErrExpiredToken, "the user_code has expired"), nil)
	case g.state != devicePending:
		s.write(w, fail(oauth.ErrInvalidRequest, "the user_code was already decided"), nil)
	default:
		g.state = to
		s.write(w, success("", member{"decision", r.PostForm.Get("decision")}), nil)
	}
}

// deviceToken answers a device access token request (RFC 8628 §3.4–3.5)
// from client c.
func (s *Server) deviceToken(c *Client, form map[string]string, q quirkSet) *reply {
	code, has := form[oauth.ParamDeviceCode]
	if !has {
		return fail(oauth.ErrInvalidRequest, "device_code is missing")
	}
	g, ok := s.device.get(code)
	if !ok || c == nil || g.client != c.ID {
		// RFC 6749 §5.2 invalid_grant: unknown, or "issued to another client".
		return fail(oauth.ErrInvalidGrant, "unknown device_code")
	}
	now := s.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.redeemed && !q.On(rules.DeviceSingleUse.ID) {
		// The harness's statement TH-DEVICE-SINGLE-USE: a device code
		// issues tokens once. The fault issues them again.
		return fail(oauth.ErrInvalidGrant, "device_code was already redeemed")
	}
	// RFC 8628 §3.5 expired_token: "The "device_code" has expired, and
	// the device authorization session has concluded." The fault keeps
	// the session going.
	if !now.Before(g.expires) && !q.On(rules.DeviceExpired.ID) {
		if q.On(rules.VarDeviceExpiredInvalidGrant.ID) {
			// The variation: RFC 6749 §5.2's invalid_grant, whose
			// definition covers an expired grant.
			return fail(oauth.ErrInvalidGrant, "device_code has expired")
		}
		return fail(oauth.ErrExpiredToken, "device_code has expired")
	}
	early := g.polls > 0 && now.Sub(g.last) < g.interval-slowDownTolerance
	first := g.polls == 0
	g.polls++
	g.last = now
	if q.On(rules.VarDeviceSlowDown.ID) && (first || early) {
		// The variation: RFC 8628 §3.5 slow_down, "the interval MUST be
		// increased by 5 seconds for this and all subsequent requests";
		// the first poll and any poll sooner than that interval get it.
		g.interval += oauth.SlowDownIncrease * time.Second
		return fail(oauth.ErrSlowDown, "polling too fast: wait 5 seconds longer")
	}
	switch g.state {
	case deviceDenied:
		// RFC 8628 §3.5 access_denied: "The authorization request was
		// denied." The fault answers invalid_grant.
		if q.On(rules.DeviceDenied.ID) {
			return fail(oauth.ErrInvalidGrant, "device_code is not valid")
		}
		return fail(oauth.ErrAccessDenied, "the user denied the request")
	case devicePending:
		// RFC 8628 §3.5 authorization_pending. The fault answers
		// invalid_grant as if the code were bad.
		if q.On(rules.DevicePending.ID) {
			return fail(oauth.ErrInvalidGrant, "device_code is not valid")
		}
		return fail(oauth.ErrAuthorizationPending, "the user has not yet acted")
	}
	// Approved. RFC 8628 §3.5: "If the user has approved the grant, the
	// token endpoint responds with a success response defined in Section
	// 5.1 of [RFC6749]". The fault refuses it.
	if q.On(rules.DeviceApproved.ID) {
		return fail(oauth.ErrInvalidGrant, "device_code is not valid")
	}
	g.redeemed = true
	fam := s.store.newFamily(c.ID, g.scope, now.Add(s.cfg.AccessTTL))
	fam.mu.Lock()
	access := s.mintAccess(fam, now)
	fam.mu.Unlock()
	return s.tokens(oauth.GrantDeviceCode, access, "", g.scope)
}
