package gate

import (
	"strings"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// TestCapabilities: the report says which declared grants were exercised
// and, for every other grant, why not.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	cfg := target.Default()
	cfg.ClientAuth = oauth.AuthBasic
	cfg.Grants = target.GrantList{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials}
	results := []reports.RuleResult{
		{ID: string(rules.NoStore.ID), Status: reports.StatusSkipped, Reason: "needs fresh authorization codes: set CODE_CMD or AUTHORIZE_URL"},
		{ID: string(rules.CCAccessToken.ID), Status: reports.StatusPassed},
	}
	c := Capabilities(cfg, rules.RFC6749, results)
	if strings.Join(c.Grants, ",") != "authorization_code,client_credentials" || c.ClientAuth != "client_secret_basic" ||
		strings.Join(c.Exercised, ",") != "client_credentials" {
		t.Errorf("got %+v", c)
	}
	why := map[string]string{}
	for _, n := range c.NotExercised {
		why[n.Grant] = n.Reason
	}
	for g, want := range map[string]string{
		oauth.GrantAuthorizationCode: "every rule for it was skipped: needs fresh authorization codes",
		oauth.GrantRefreshToken:      "not declared",
		oauth.GrantPassword:          "not declared",
		oauth.GrantDeviceCode:        "not declared",
	} {
		if !strings.Contains(why[g], want) {
			t.Errorf("%s: reason %q, want one containing %q", g, why[g], want)
		}
	}
	if len(c.NotExercised) != 4 {
		t.Errorf("not exercised: %+v", c.NotExercised)
	}
	if e := Capabilities(cfg, rules.RFC6749, nil); len(e.Exercised) != 0 || len(e.NotExercised) != 0 || len(e.Grants) != 2 {
		t.Errorf("nothing judged: %+v", e)
	}
}
