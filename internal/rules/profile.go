package rules

import (
	"fmt"
	"sort"
	"strings"

	"tokenharness/internal/oauth"
	"tokenharness/reports"
)

// Profile names a set of rules and the policy for each.
type Profile string

const (
	RFC6749    Profile = "rfc6749"
	Commoninja Profile = "commoninja"
	Dressipi   Profile = "dressipi"
	OAuth21    Profile = "oauth21"
)

// ProfileInfo is what a profile expects of the client side: how the
// harness shapes requests for it, and what its vendor documents promise.
type ProfileInfo struct {
	Name Profile
	Doc  string
	// Auth is the client authentication method the profile's documents use.
	Auth oauth.AuthMethod
	// PKCE is the code challenge method the profile expects; "" when PKCE
	// is not part of the profile.
	PKCE string
	// RefreshRedirect: refresh requests carry redirect_uri (dressipi).
	RefreshRedirect bool
	// FixedRedirect is the only redirect URI the profile allows, if any.
	FixedRedirect string
	// Rotation: the profile requires refresh-token rotation with reuse detection.
	Rotation bool
}

// DressipiRedirect is the only redirect URI the dressipi document allows.
const DressipiRedirect = "urn:ietf:wg:oauth:2.0:oob:auto"

// ProfileInfos declares every profile.
var ProfileInfos = []ProfileInfo{
	{Name: RFC6749, Doc: "RFC 6749 core: the framework's MUSTs, nothing vendor-specific", Auth: oauth.AuthBasic},
	{Name: Commoninja, Doc: "commoninja token endpoint: client_secret in the body, refresh_token_expires_in, refresh returns access_token + expires_in", Auth: oauth.AuthPost},
	{Name: Dressipi, Doc: "dressipi token endpoint: public client with client_id + PKCE, redirect_uri urn:ietf:wg:oauth:2.0:oob:auto on both grants, JWT access tokens", Auth: oauth.AuthNone, PKCE: oauth.PKCES256, RefreshRedirect: true, FixedRedirect: DressipiRedirect},
	{Name: OAuth21, Doc: "OAuth 2.1 / RFC 9700: PKCE S256 required, refresh rotation with reuse detection", Auth: oauth.AuthBasic, PKCE: oauth.PKCES256, Rotation: true},
}

// ProfileNames lists the profile names in declaration order.
func ProfileNames() []string {
	out := make([]string, len(ProfileInfos))
	for i, p := range ProfileInfos {
		out[i] = string(p.Name)
	}
	return out
}

// Info returns the declaration of profile p.
func Info(p Profile) (ProfileInfo, error) {
	for _, i := range ProfileInfos {
		if i.Name == p {
			return i, nil
		}
	}
	return ProfileInfo{}, fmt.Errorf("rules: unknown profile %q: use one of %s", p, strings.Join(ProfileNames(), "|"))
}

// Mode is what a profile does with a rule's violation: the reports
// vocabulary's policy mode.
type Mode = reports.PolicyMode

const (
	ModeEnforce = reports.PolicyEnforce
	ModeWarn    = reports.PolicyWarn
	ModeWaive   = reports.PolicyWaive
)

// Policy is a profile's stance on one rule. Warn and Waive carry the reason,
// which the report shows next to the rule: a deviation is stated, not hidden.
type Policy struct {
	Mode   Mode   `json:"mode"`
	Reason string `json:"reason,omitempty"`
}

// Enforce applies the rule at its level.
var Enforce = Policy{Mode: ModeEnforce}

// Warn runs the rule and reports a violation as a warning.
func Warn(reason string) Policy { return Policy{Mode: ModeWarn, Reason: reason} }

// Waive runs the rule for the record but does not judge it.
func Waive(reason string) Policy { return Policy{Mode: ModeWaive, Reason: reason} }

// Profiles maps a profile to its policy; an absent profile does not run the rule.
type Profiles map[Profile]Policy

// Everywhere enforces a rule in every profile.
func Everywhere() Profiles {
	ps := Profiles{}
	for _, i := range ProfileInfos {
		ps[i.Name] = Enforce
	}
	return ps
}

// Only enforces a rule in the given profiles.
func Only(names ...Profile) Profiles {
	ps := Profiles{}
	for _, n := range names {
		ps[n] = Enforce
	}
	return ps
}

// With returns a copy of ps with p set to pol.
func (ps Profiles) With(p Profile, pol Policy) Profiles {
	out := Profiles{}
	for k, v := range ps {
		out[k] = v
	}
	out[p] = pol
	return out
}

// Names returns the profiles in ps, sorted.
func (ps Profiles) Names() []Profile {
	out := make([]Profile, 0, len(ps))
	for p := range ps {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
