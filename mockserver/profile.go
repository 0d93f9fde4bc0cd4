package mockserver

import (
	"fmt"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// behaviour is how the mock serves one profile. What the profile promises
// the client side (PKCE method, redirect on refresh, fixed redirect URI)
// comes from rules.ProfileInfo; what is a server-side choice is here.
type behaviour struct {
	info rules.ProfileInfo
	// requirePKCE: authorize refuses a request without code_challenge.
	requirePKCE bool
	// s256Only: the plain challenge method is refused (OAuth 2.1).
	s256Only bool
	// rotate: refresh responses carry a new refresh token by default.
	rotate bool
	// jwtAccess: access tokens are HS256 JWTs (dressipi).
	jwtAccess bool
	shape     shape
}

// shape is which members a success response carries.
type shape int

const (
	// shapeRFC: access_token, token_type, expires_in, refresh_token, scope.
	shapeRFC shape = iota
	// shapeCommoninja: the code response has access_token, expires_in,
	// refresh_token and refresh_token_expires_in, no token_type; the refresh
	// response access_token and expires_in only.
	shapeCommoninja
	// shapeDressipi: access_token, token_type, expires_in, refresh_token.
	shapeDressipi
)

// behaviours declares every profile the mock serves; a test keeps it in
// step with rules.ProfileInfos.
var behaviours = map[rules.Profile]behaviour{
	rules.RFC6749:    {shape: shapeRFC},
	rules.Commoninja: {shape: shapeCommoninja},
	// "It may return an updated refresh token": the mock does, so clients
	// of this profile are exercised on rotation (VAR-NO-ROTATION turns it off).
	rules.Dressipi: {requirePKCE: true, rotate: true, jwtAccess: true, shape: shapeDressipi},
	rules.OAuth21:  {requirePKCE: true, s256Only: true, rotate: true, shape: shapeRFC},
}

func behaviourOf(p rules.Profile) (behaviour, error) {
	info, err := rules.Info(p)
	if err != nil {
		return behaviour{}, err
	}
	b, ok := behaviours[p]
	if !ok {
		return behaviour{}, fmt.Errorf("profile %s has no mock behaviour: declare it in mockserver/profile.go", p)
	}
	b.info = info
	return b, nil
}

// allowsChallengeMethod reports whether authorize accepts PKCE method m.
func (b behaviour) allowsChallengeMethod(m string) bool {
	switch m {
	case oauth.PKCES256:
		return true
	case oauth.PKCEPlain:
		return !b.s256Only
	}
	return false
}
