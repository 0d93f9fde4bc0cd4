package codes

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"tokenharness/internal/oauth"
)

// unreserved is the code verifier alphabet of RFC 7636 §4.1:
// ALPHA / DIGIT / "-" / "." / "_" / "~".
const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// VerifierLen is the length of generated verifiers (RFC 7636 §4.1 allows
// 43 to 128).
const VerifierLen = 64

// NewVerifier returns a fresh code verifier of VerifierLen characters drawn
// uniformly from the unreserved set with crypto/rand.
func NewVerifier() (string, error) {
	// Bytes at or above the largest multiple of the alphabet size are
	// rejected so every character is equally likely.
	const limit = 256 - 256%len(unreserved)
	out := make([]byte, 0, VerifierLen)
	buf := make([]byte, 2*VerifierLen)
	// Each byte is accepted with probability 198/256, so 8 rounds of 128
	// bytes failing to yield 64 characters does not happen in practice.
	for range 8 {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("codes: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, unreserved[int(b)%len(unreserved)])
			if len(out) == VerifierLen {
				return string(out), nil
			}
		}
	}
	return "", errors.New("codes: random source kept yielding rejected bytes")
}

// Challenge derives the code challenge for verifier (RFC 7636 §4.2):
// BASE64URL(SHA256(verifier)) without padding for S256, the verifier itself
// for plain. It does not check the verifier's syntax, since rules send
// malformed verifiers on purpose.
func Challenge(verifier, method string) (string, error) {
	switch method {
	case oauth.PKCES256:
		sum := sha256.Sum256([]byte(verifier))
		return base64.RawURLEncoding.EncodeToString(sum[:]), nil
	case oauth.PKCEPlain:
		return verifier, nil
	}
	return "", fmt.Errorf("codes: code_challenge_method %q is not one of %s|%s", method, oauth.PKCES256, oauth.PKCEPlain)
}
