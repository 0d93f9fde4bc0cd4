package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"tokenharness/internal/oauth"
)

// The device authorization grant's polling at the token endpoint (RFC 8628
// §3.4–3.5, https://www.rfc-editor.org/rfc/rfc8628). A flow asks the device
// authorization endpoint (§3.1) for a device_code and user_code, has the
// user approve or deny the user_code black-box (DEVICE_APPROVE_CMD,
// DEVICE_DENY_CMD or DEVICE_VERIFY_URL, through DeviceEnv), and polls the
// token endpoint as a client must: waiting the announced interval (5 s when
// none is announced) before each new poll, and 5 s longer after every
// slow_down, for that and every later poll (§3.5). Polling is bounded in
// count and time. The vendor documents define no device grant, so only the
// rfc6749 and oauth21 profiles run these rules.

const rfc8628URL = "https://www.rfc-editor.org/rfc/rfc8628"

func rfc8628(section, quote string) Source {
	return Source{Doc: "RFC 8628", Section: section, URL: rfc8628URL + "#section-" + section, Quote: quote}
}

// The device grant's needs.
const (
	// NeedGrantDevice: the target declares the device_code grant (GRANTS).
	NeedGrantDevice Need = "grant-device-code"
	// NeedDeviceAuthorization: a device authorization endpoint
	// (DEVICE_AUTHORIZATION_URL).
	NeedDeviceAuthorization Need = "device-authorization"
	// NeedDeviceApprove and NeedDeviceDeny: a way to have the user approve,
	// or deny, a user_code (DEVICE_APPROVE_CMD / DEVICE_DENY_CMD, or
	// DEVICE_VERIFY_URL for both).
	NeedDeviceApprove Need = "device-approve"
	NeedDeviceDeny    Need = "device-deny"
)

// deviceWhy says how to satisfy the device grant's needs; "" for others.
func deviceWhy(n Need) string {
	switch n {
	case NeedDeviceAuthorization:
		return "needs the device authorization endpoint (RFC 8628 §3.1): set DEVICE_AUTHORIZATION_URL"
	case NeedDeviceApprove:
		return "needs a way to have the user approve a user_code: set DEVICE_APPROVE_CMD (a command run with OAUTH_USER_CODE) or DEVICE_VERIFY_URL (the bundled mock's /oauth/device/verify)"
	case NeedDeviceDeny:
		return "needs a way to have the user deny a user_code: set DEVICE_DENY_CMD (a command run with OAUTH_USER_CODE) or DEVICE_VERIFY_URL (the bundled mock's /oauth/device/verify)"
	}
	return ""
}

// DeviceEnv is what the device rules need beyond Env. Package conform's
// Env implements it; an Env that does not leaves the rules skipped.
type DeviceEnv interface {
	// DeviceAuthorize sends a device authorization request (RFC 8628 §3.1)
	// as the run's client, with the configured scope; the exchange is kept
	// as evidence.
	DeviceAuthorize(ctx context.Context, step string) *oauth.Exchange
	// DeviceDecide makes the user approve (or deny) userCode. A missing
	// way to do so is reported as *Unavailable.
	DeviceDecide(ctx context.Context, userCode string, approve bool) error
}

// Bounds of device polling.
const (
	// DeviceMaxPolls bounds the polls of one wait for the user's decision.
	DeviceMaxPolls = 8
	// DeviceDecisionBudget bounds how long one wait for the user's
	// decision polls (and the device code's lifetime bounds it too).
	DeviceDecisionBudget = 45 * time.Second
	// DeviceExpiryWait is the longest device code lifetime the expiry rule
	// waits out; a longer expires_in leaves it skipped.
	DeviceExpiryWait = 30 * time.Second
	// deviceExpiryMargin is how long past expires_in the expiry rule polls,
	// for the clocks' sake.
	deviceExpiryMargin = time.Second
)

// DeviceSession is one device authorization (RFC 8628 §3.2) being polled.
type DeviceSession struct {
	DeviceCode string
	UserCode   string
	// ExpiresIn is the announced lifetime; Received when the response came.
	ExpiresIn time.Duration
	Received  time.Time
	// Interval is the current polling interval: the announced one (5 s
	// when none was), plus 5 s per slow_down.
	Interval time.Duration
	// Announced says whether the response carried interval.
	Announced bool
	SlowDowns int
	polls     int
	last      time.Time
	waits     []string
	// wait sleeps: time itself, or the Env's Sleep when it has one
	// (tests' fake clocks).
	wait func(ctx context.Context, d time.Duration) error
}

// sleeper is an Env that waits its own way (a test's fake clock).
type sleeper interface {
	Sleep(ctx context.Context, d time.Duration) error
}

// StartDevice sends a device authorization request and reads the session
// from its response. A response without a usable device_code, user_code
// or expires_in is an error: the rule cannot reach its starting state.
func StartDevice(ctx context.Context, e Env) (*DeviceSession, *oauth.Exchange, error) {
	de, ok := e.(DeviceEnv)
	if !ok {
		return nil, nil, &Unavailable{Reason: deviceWhy(NeedDeviceAuthorization)}
	}
	x := de.DeviceAuthorize(ctx, "device authorization request")
	resp, err := x.Got()
	if err != nil {
		return nil, x, fmt.Errorf("the device authorization request got no response: %w", err)
	}
	if resp.Status != 200 {
		return nil, x, fmt.Errorf("the device authorization request got status %d%s, not 200", resp.Status, errorSuffix(resp))
	}
	obj, err := resp.Object()
	if err != nil {
		return nil, x, fmt.Errorf("the device authorization response: %w", err)
	}
	s := &DeviceSession{Received: time.Now(), Interval: oauth.DefaultDeviceInterval * time.Second, wait: sleep}
	if sl, ok := e.(sleeper); ok {
		s.wait = sl.Sleep
	}
	s.DeviceCode, _ = obj[oauth.ParamDeviceCode].(string)
	s.UserCode, _ = obj[oauth.ParamUserCode].(string)
	if s.DeviceCode == "" || s.UserCode == "" {
		return nil, x, errors.New("the device authorization response carries no non-empty device_code and user_code strings")
	}
	exp, ok := seconds(obj[oauth.ParamExpiresIn])
	if !ok || exp <= 0 {
		return nil, x, errors.New("the device authorization response carries no positive expires_in")
	}
	s.ExpiresIn = exp
	if v, present := obj[oauth.ParamInterval]; present {
		iv, ok := seconds(v)
		if !ok || iv < 0 {
			return nil, x, fmt.Errorf("the device authorization response's interval %v is not a number of seconds", v)
		}
		s.Interval, s.Announced = iv, true
	}
	return s, x, nil
}

// seconds reads a JSON number of seconds.
func seconds(v any) (time.Duration, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e6 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// Poll sends one device access token request (§3.4), first waiting the
// current interval since the previous poll, as §3.5 binds the client to.
// A slow_down answer grows the interval by 5 s for every later poll.
func (s *DeviceSession) Poll(ctx context.Context, e Env, what string) (*oauth.Exchange, error) {
	wait := time.Duration(0)
	if s.polls > 0 {
		wait = time.Until(s.last.Add(s.Interval))
	}
	if err := s.wait(ctx, wait); err != nil {
		return nil, err
	}
	s.polls++
	step := fmt.Sprintf("poll %d: %s", s.polls, what)
	if s.polls > 1 {
		step += fmt.Sprintf(" (interval %s", s.Interval)
		if s.SlowDowns > 0 {
			step += fmt.Sprintf(" after %d slow_down", s.SlowDowns)
		}
		step += ")"
	}
	x := e.Do(ctx, Request{Step: step, Form: url.Values{
		oauth.ParamGrantType:  {oauth.GrantDeviceCode},
		oauth.ParamDeviceCode: {s.DeviceCode},
	}})
	if s.polls > 1 {
		s.waits = append(s.waits, s.Interval.String())
	}
	s.last = time.Now()
	if errorCode(x) == oauth.ErrSlowDown.Code {
		// RFC 8628 §3.5 slow_down: "the interval MUST be increased by 5
		// seconds for this and all subsequent requests".
		s.SlowDowns++
		s.Interval += oauth.SlowDownIncrease * time.Second
	}
	return x, nil
}

// PollUntilDecided polls while the answer is authorization_pending or
// slow_down, at most DeviceMaxPolls times and for DeviceDecisionBudget (or
// the device code's lifetime, if shorter). pending is true when the last
// answer still said pending.
func (s *DeviceSession) PollUntilDecided(ctx context.Context, e Env, what string) (x *oauth.Exchange, pending bool, err error) {
	deadline := time.Now().Add(DeviceDecisionBudget)
	if end := s.Received.Add(s.ExpiresIn); end.Before(deadline) {
		deadline = end
	}
	for i := 0; i < DeviceMaxPolls; i++ {
		if i > 0 && s.last.Add(s.Interval).After(deadline) {
			break
		}
		x, err = s.Poll(ctx, e, what)
		if err != nil {
			return x, true, err
		}
		if !stillPending(x) {
			return x, false, nil
		}
	}
	return x, true, nil
}

// expiredBy reports whether x answered expired_token when the device code
// had, or nearly had, reached its expires_in: a fair answer then, whatever
// the rule was after.
func (s *DeviceSession) expiredBy(x *oauth.Exchange) bool {
	return errorCode(x) == oauth.ErrExpiredToken.Code && !s.last.Before(s.Received.Add(s.ExpiresIn-deviceExpiryMargin))
}

// Note sums the session's polling up for the verdict: how many polls, and
// the interval each waited, showing any slow_down growth.
func (s *DeviceSession) Note() string {
	n := fmt.Sprintf("%d poll(s)", s.polls)
	if len(s.waits) > 0 {
		n += "; waited before each later poll: " + strings.Join(s.waits, ", ")
	}
	if !s.Announced {
		n += fmt.Sprintf("; no interval announced, so the default %d s", oauth.DefaultDeviceInterval)
	}
	if s.SlowDowns > 0 {
		n += fmt.Sprintf("; %d slow_down answer(s), each adding %d s to the interval (RFC 8628 §3.5), which the harness honoured", s.SlowDowns, oauth.SlowDownIncrease)
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stillPending: authorization_pending, or its variant slow_down (§3.5).
func stillPending(x *oauth.Exchange) bool {
	c := errorCode(x)
	return c == oauth.ErrAuthorizationPending.Code || c == oauth.ErrSlowDown.Code
}

// unjudgeable says why x proves nothing about how the server handled the
// request (no response, or a 5xx), or "".
func unjudgeable(x *oauth.Exchange) string {
	resp, err := x.Got()
	switch {
	case err != nil:
		return answerOf(x)
	case resp.Status >= 500:
		return answerOf(x)
	}
	return ""
}

// deviceStart starts a session; it returns an outcome when the rule
// cannot go on.
func deviceStart(ctx context.Context, e Env) (*DeviceSession, *oauth.Exchange, *Outcome) {
	s, x, err := StartDevice(ctx, e)
	if err != nil {
		o := SetupFailed(x, err)
		return nil, x, &o
	}
	return s, x, nil
}

var deviceProfiles = Only(RFC6749, OAuth21)

// requestErrors are the §5.2 codes that refuse a poll for its client or
// its shape rather than for its device code.
var requestErrors = []string{oauth.ErrInvalidRequest.Code, oauth.ErrInvalidClient.Code, oauth.ErrUnauthorizedClient.Code,
	oauth.ErrUnsupportedGrantType.Code, oauth.ErrInvalidScope.Code}

var (
	DevicePending = Rule{
		ID: "RFC8628-3.5-AUTHORIZATION-PENDING", Level: MUST,
		Source:   rfc8628("3.5", `authorization_pending The authorization request is still pending as the end user hasn't yet completed the user-interaction steps (Section 3.3).`),
		Summary:  "a device code polled before the user acts gets authorization_pending (or its variant slow_down), not tokens",
		Profiles: deviceProfiles, Needs: []Need{NeedGrantDevice, NeedDeviceAuthorization},
		Flow: func(ctx context.Context, e Env) Outcome {
			s, _, o := deviceStart(ctx, e)
			if o != nil {
				return *o
			}
			var x *oauth.Exchange
			// slow_down is "a variant of authorization_pending": a few
			// polls at the growing interval for the plain answer.
			for i := 0; i < 3; i++ {
				var err error
				if x, err = s.Poll(ctx, e, "before the user acts"); err != nil {
					return Inconclusive(x, "polling: %v", err)
				}
				if errorCode(x) != oauth.ErrSlowDown.Code {
					break
				}
			}
			out := Judge(x)
			out.Note = s.Note()
			if why := unjudgeable(x); why != "" {
				return Inconclusive(x, "the poll before the user acted got %s", why)
			}
			if s.expiredBy(x) {
				return Inconclusive(x, "the device code's expires_in of %s had (nearly) passed by the poll", s.ExpiresIn)
			}
			if slices.Contains(requestErrors, errorCode(x)) {
				// Refused for the client or the request's shape, not on
				// the device code's state: no evidence either way.
				return Inconclusive(x, "the poll before the user acted was refused with %s, which judges the client or the request, not the device code's state: check the client may use the device grant (GRANTS, CLIENT_ID, CLIENT_AUTH)", errorCode(x))
			}
			if errorCode(x) == oauth.ErrSlowDown.Code {
				out.Note += "; every poll was answered slow_down, the variant of authorization_pending"
				out.Judged = nil
			}
			return out
		},
		Expect: []Check{Rejected(oauth.ErrAuthorizationPending)},
	}
	DeviceApproved = Rule{
		ID: "RFC8628-3.5-APPROVED-TOKENS", Level: MUST,
		Source:   rfc8628("3.5", `If the user has approved the grant, the token endpoint responds with a success response defined in Section 5.1 of [RFC6749]`),
		Summary:  "once the user approved the user_code, polling the device code yields a §5.1 success response",
		Profiles: deviceProfiles, Needs: []Need{NeedGrantDevice, NeedDeviceAuthorization, NeedDeviceApprove},
		Flow: func(ctx context.Context, e Env) Outcome {
			x, s, o := deviceDecided(ctx, e, true)
			if o != nil {
				return *o
			}
			out := Judge(x)
			out.Note = s.Note()
			return out
		},
		Expect: []Check{Success(), Field(oauth.ParamTokenType, NonEmptyString())},
	}
	DeviceDenied = Rule{
		ID: "RFC8628-3.5-ACCESS-DENIED", Level: MUST,
		Source:   rfc8628("3.5", `access_denied The authorization request was denied.`),
		Summary:  "once the user denied the user_code, polling the device code gets access_denied",
		Profiles: deviceProfiles, Needs: []Need{NeedGrantDevice, NeedDeviceAuthorization, NeedDeviceDeny},
		Flow: func(ctx context.Context, e Env) Outcome {
			x, s, o := deviceDecided(ctx, e, false)
			if o != nil {
				return *o
			}
			if Won(x) {
				return Outcome{Judged: x, Violation: errors.New("the denied device code issued tokens"), Note: s.Note()}
			}
			out := Judge(x)
			out.Note = s.Note()
			return out
		},
		Expect: []Check{Rejected(oauth.ErrAccessDenied)},
	}
	DeviceExpired = Rule{
		ID: "RFC8628-3.5-EXPIRED-TOKEN", Level: MUST,
		Source:   rfc8628("3.5", `expired_token The "device_code" has expired, and the device authorization session has concluded.`),
		Summary:  "a device code polled after its expires_in, the user never having acted, gets expired_token (or invalid_grant, RFC 6749's code for an expired grant)",
		Profiles: deviceProfiles, Needs: []Need{NeedGrantDevice, NeedDeviceAuthorization},
		Flow: func(ctx context.Context, e Env) Outcome {
			s, _, o := deviceStart(ctx, e)
			if o != nil {
				return *o
			}
			if s.ExpiresIn > DeviceExpiryWait {
				return Outcome{Skip: fmt.Sprintf("the device code's expires_in is %s, longer than the %s the harness waits for one to expire: configure the target's device code lifetime to %s or less (the bundled mock's is a few seconds)", s.ExpiresIn, DeviceExpiryWait, DeviceExpiryWait)}
			}
			first, err := s.Poll(ctx, e, "before the user acts")
			if err != nil {
				return Inconclusive(first, "polling: %v", err)
			}
			if !stillPending(first) {
				return Inconclusive(first, "the poll before the user acted got %s, not authorization_pending, so the code's expiry cannot be told apart", answerOf(first))
			}
			if err := s.wait(ctx, time.Until(s.Received.Add(s.ExpiresIn+deviceExpiryMargin))); err != nil {
				return Inconclusive(nil, "waiting for the device code to expire: %v", err)
			}
			x, err := s.Poll(ctx, e, fmt.Sprintf("after the code's expires_in of %s", s.ExpiresIn))
			if err != nil {
				return Inconclusive(x, "polling: %v", err)
			}
			if why := unjudgeable(x); why != "" {
				return Inconclusive(x, "the poll after expiry got %s", why)
			}
			switch {
			case Won(x):
				return Outcome{Judged: x, Violation: fmt.Errorf("the device code issued tokens %s after its expires_in of %s", deviceExpiryMargin, s.ExpiresIn), Note: s.Note()}
			case stillPending(x):
				return Outcome{Judged: x, Violation: fmt.Errorf("the device code is still pending (%s) %s after its expires_in of %s: the session should have concluded", errorCode(x), deviceExpiryMargin, s.ExpiresIn), Note: s.Note()}
			}
			out := Judge(x)
			out.Note = s.Note()
			return out
		},
		// RFC 8628 offers expired_token beside RFC 6749 §5.2's codes, and
		// invalid_grant's definition names an expired grant: both conclude
		// the session, so both pass (VAR-DEVICE-EXPIRED-INVALID-GRANT).
		// What the sentence forbids is tokens or a session still pending.
		Expect: []Check{Rejected(oauth.ErrExpiredToken, oauth.ErrInvalidGrant)},
	}
	// RFC 8628 has no sentence saying a device code is redeemed once (RFC
	// 6749 §10.5's single use is the authorization code's), so this is
	// the harness's own statement, at SHOULD: reported, never gating.
	DeviceSingleUse = Rule{
		ID: "TH-DEVICE-SINGLE-USE", Level: SHOULD,
		Source:   harness("device", `A device_code is redeemed once: after it issued tokens, polling with it again issues none.`),
		Summary:  "a device code that issued tokens issues none when polled again",
		Profiles: deviceProfiles, Needs: []Need{NeedGrantDevice, NeedDeviceAuthorization, NeedDeviceApprove},
		Flow: func(ctx context.Context, e Env) Outcome {
			x, s, o := deviceDecided(ctx, e, true)
			if o != nil {
				return *o
			}
			if !Won(x) {
				return Inconclusive(x, "the approved device code got %s, not tokens, so reusing it proves nothing", answerOf(x))
			}
			again, err := s.Poll(ctx, e, "the redeemed device code again")
			if err != nil {
				return Inconclusive(again, "polling: %v", err)
			}
			if why := unjudgeable(again); why != "" {
				return Inconclusive(again, "the second redemption got %s", why)
			}
			out := Judge(again)
			out.Note = s.Note()
			return out
		},
		Expect: []Check{noTokens()},
	}
)

// noTokens expects a refusal of any kind: a response that is not 2xx and
// carries no access_token.
func noTokens() Check {
	return onResponse("issues no tokens", func(r *oauth.Response) error {
		if r.Status >= 200 && r.Status < 300 {
			return fmt.Errorf("got status %d: the request was accepted", r.Status)
		}
		if obj, err := r.Object(); err == nil {
			if _, ok := obj[oauth.ParamAccessToken]; ok {
				return fmt.Errorf("status %d carries an access_token", r.Status)
			}
		}
		return nil
	})
}

// deviceDecided starts a session, polls once before the user acts, has the
// user approve (or deny), and polls until the answer is no longer pending.
// A non-nil outcome ends the rule (skipped or inconclusive).
func deviceDecided(ctx context.Context, e Env, approve bool) (*oauth.Exchange, *DeviceSession, *Outcome) {
	verb := map[bool]string{true: "approved", false: "denied"}[approve]
	s, _, o := deviceStart(ctx, e)
	if o != nil {
		return nil, nil, o
	}
	first, err := s.Poll(ctx, e, "before the user acts")
	if err != nil {
		o := Inconclusive(first, "polling: %v", err)
		return nil, nil, &o
	}
	if !stillPending(first) {
		o := Inconclusive(first, "the poll before the user acted got %s, not authorization_pending, so what the user's decision changes cannot be seen", answerOf(first))
		return nil, nil, &o
	}
	if err := e.(DeviceEnv).DeviceDecide(ctx, s.UserCode, approve); err != nil {
		o := SetupFailed(nil, fmt.Errorf("having the user %s the user_code: %w", strings.TrimSuffix(verb, "d"), err))
		return nil, nil, &o
	}
	x, pending, err := s.PollUntilDecided(ctx, e, "after the user "+verb)
	if err != nil {
		o := Inconclusive(x, "polling: %v", err)
		return nil, nil, &o
	}
	if why := unjudgeable(x); why != "" {
		o := Inconclusive(x, "the poll after the user %s got %s", verb, why)
		return nil, nil, &o
	}
	if pending {
		o := Inconclusive(x, "the device code was still pending after the user %s (%s): the decision did not reach the token endpoint within the polling budget", verb, s.Note())
		return nil, nil, &o
	}
	if s.expiredBy(x) {
		o := Inconclusive(x, "the device code's expires_in of %s had (nearly) passed when it was polled after the user %s, so expired_token is a fair answer: the decision came too late to judge", s.ExpiresIn, verb)
		return nil, nil, &o
	}
	return x, s, nil
}

var device = []Rule{DevicePending, DeviceApproved, DeviceDenied, DeviceExpired, DeviceSingleUse}
