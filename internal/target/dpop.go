package target

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
)

// setDPoPFromEnv applies DPOP, DPOP_KEY_FILE, DPOP_ALG and DPOP_JKT.
func (c *Config) setDPoPFromEnv(name, v string) (problem string) {
	switch name {
	case "DPOP":
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Sprintf("DPOP %q is not a boolean: use DPOP=true or DPOP=false", v)
		}
		c.DPoP = b
	case "DPOP_KEY_FILE":
		c.DPoPKeyFile = v
	case "DPOP_ALG":
		c.DPoPAlg = strings.TrimSpace(v)
	case "DPOP_JKT":
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Sprintf("DPOP_JKT %q is not a boolean: use DPOP_JKT=true or DPOP_JKT=false", v)
		}
		c.DPoPJKT = b
	}
	return ""
}

// validateDPoP checks the DPoP settings: a key file, an algorithm or
// DPOP_JKT only with DPOP=true, a readable private key, an asymmetric algorithm that fits it.
// It signs one proof, so a key the run could not use fails here, before
// any request.
func (c Config) validateDPoP() error {
	if !c.DPoP {
		switch {
		case c.DPoPKeyFile != "":
			return c.bad("DPOP_KEY_FILE is set%s but DPOP is not true: set DPOP=true to run the DPoP rules with that key, or unset DPOP_KEY_FILE", c.from("dpop_key_file"))
		case c.DPoPAlg != "":
			return c.bad("DPOP_ALG is set%s but DPOP is not true: set DPOP=true to run the DPoP rules, or unset DPOP_ALG", c.from("dpop_alg"))
		case c.DPoPJKT:
			return c.bad("DPOP_JKT is true%s but DPOP is not: a code bound to a DPoP key is redeemed with a DPoP proof, so set DPOP=true, or unset DPOP_JKT", c.from("dpop_jkt"))
		}
		return nil
	}
	if _, err := c.DPoPKey(); err != nil {
		return c.bad("%v", err)
	}
	return nil
}

// DPoPKey is the run's DPoP proof key: DPOP_KEY_FILE signing with DPOP_ALG
// (or the key's default algorithm), or, without a file, an ES256 key
// generated now (each call a new one: call it once per run).
func (c Config) DPoPKey() (jwtsign.Key, error) {
	var k jwtsign.Key
	if c.DPoPKeyFile == "" {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return k, fmt.Errorf("generating the DPoP key: %w", err)
		}
		k = jwtsign.Key{Alg: jose.ES256, Private: priv}
	} else {
		priv, err := jwtsign.LoadPrivateKey(c.DPoPKeyFile)
		if err != nil {
			return k, fmt.Errorf("DPOP_KEY_FILE %s%s: %v: point it at a PEM private key (PKCS #8, SEC 1 EC or PKCS #1 RSA), or unset it for a generated ES256 key", c.DPoPKeyFile, c.from("dpop_key_file"), err)
		}
		k = jwtsign.Key{Alg: jwtsign.DefaultAlg(priv), Private: priv}
	}
	if c.DPoPAlg != "" {
		alg, err := jwtsign.ParseAlg(c.DPoPAlg)
		if err != nil {
			return k, fmt.Errorf("DPOP_ALG%s: %v", c.from("dpop_alg"), err)
		}
		if strings.HasPrefix(string(alg), "HS") {
			return k, fmt.Errorf("DPOP_ALG %s%s is symmetric: a DPoP proof is signed with an asymmetric algorithm (RFC 9449 §4.2), e.g. DPOP_ALG=ES256", alg, c.from("dpop_alg"))
		}
		k.Alg = alg
	}
	if _, err := jwtsign.SignProof(k, jwtsign.Proof{Method: "POST", URL: "https://tokenharness.invalid/token"}); err != nil {
		return k, fmt.Errorf("DPOP_ALG %s does not fit the DPoP key (%T): %v: pick an algorithm of the key's type (ES256 for P-256, RS256/PS256 for RSA, EdDSA for Ed25519)", k.Alg, k.Private, err)
	}
	return k, nil
}
