// Package jwtsign mints the JSON Web Tokens a client sends to a token
// endpoint: client assertions (RFC 7523 §2.2, private_key_jwt and
// client_secret_jwt) and DPoP proofs (RFC 9449 §4.2). Signing is go-jose's;
// this package only chooses the header and claims, including the broken
// ones the conformance rules send on purpose (a wrong key, alg "none", an
// expired or misaddressed token, a replayed jti).
//
// Nothing here verifies a token: the bundled mock verifies with its own
// code, so the checker and the server never share a reading.
package jwtsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// AlgNone is the unsecured JWS algorithm (RFC 7515 §A.5), which go-jose
// refuses to produce; Sign builds it by hand so rules can send it.
const AlgNone = "none"

// Key is a signing key and the algorithm it signs with.
type Key struct {
	Alg jose.SignatureAlgorithm
	// Private is a crypto.Signer (RSA, ECDSA, Ed25519) for asymmetric
	// algorithms, or a []byte secret for HS256/HS384/HS512.
	Private any
	// ID is the "kid" header, if the server looks keys up by it.
	ID string
}

// Symmetric reports whether k is an HMAC key.
func (k Key) Symmetric() bool { _, ok := k.Private.([]byte); return ok }

// Public is the public JWK of an asymmetric key.
func (k Key) Public() (jose.JSONWebKey, error) {
	s, ok := k.Private.(crypto.Signer)
	if !ok {
		return jose.JSONWebKey{}, errors.New("jwtsign: a symmetric key has no public JWK")
	}
	return jose.JSONWebKey{Key: s.Public(), KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"}, nil
}

// PublicPEM is the PKIX PEM of an asymmetric key's public half, as a
// server registers a private_key_jwt client's key.
func (k Key) PublicPEM() (string, error) {
	s, ok := k.Private.(crypto.Signer)
	if !ok {
		return "", errors.New("jwtsign: a symmetric key has no public key")
	}
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return "", fmt.Errorf("jwtsign: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// Thumbprint is the base64url SHA-256 JWK thumbprint (RFC 7638) of k's
// public key: a DPoP-bound token's "jkt" (RFC 9449 §6.1).
func (k Key) Thumbprint() (string, error) {
	j, err := k.Public()
	if err != nil {
		return "", err
	}
	t, err := j.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}

// Header shapes the protected header.
type Header struct {
	// Typ is the "typ" header ("dpop+jwt" for proofs); empty omits it.
	Typ string
	// JWK embeds the public key (DPoP proofs carry it, §4.2).
	JWK bool
	// KeyID sets "kid" from the key's ID.
	KeyID bool
	// ForeignJWK is embedded as "jwk" instead of the signing key's own: a
	// proof signed with one key that names another, or a symmetric proof
	// that names a public key, both of which a server must refuse.
	ForeignJWK *jose.JSONWebKey
}

// Sign returns the compact JWS of claims under h, signed with k. Alg "none"
// gives an unsecured token with an empty signature.
func Sign(k Key, h Header, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwtsign: %w", err)
	}
	if k.Alg == AlgNone {
		hdr := map[string]any{"alg": AlgNone}
		if h.Typ != "" {
			hdr["typ"] = h.Typ
		}
		switch {
		case h.ForeignJWK != nil:
			hdr["jwk"] = h.ForeignJWK
		case h.JWK:
			if j, err := k.Public(); err == nil {
				hdr["jwk"] = j
			}
		}
		hb, err := json.Marshal(hdr)
		if err != nil {
			return "", fmt.Errorf("jwtsign: %w", err)
		}
		enc := base64.RawURLEncoding
		return enc.EncodeToString(hb) + "." + enc.EncodeToString(payload) + ".", nil
	}
	opts := &jose.SignerOptions{}
	if h.Typ != "" {
		opts.WithType(jose.ContentType(h.Typ))
	}
	switch {
	case h.ForeignJWK != nil:
		opts.WithHeader("jwk", h.ForeignJWK)
	case h.JWK:
		if k.Symmetric() {
			return "", errors.New("jwtsign: a symmetric key has no public JWK to embed")
		}
		opts.EmbedJWK = true
	}
	var key any = k.Private
	if h.KeyID && k.ID != "" {
		key = jose.JSONWebKey{Key: k.Private, KeyID: k.ID, Algorithm: string(k.Alg)}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("jwtsign: %w", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jwtsign: %w", err)
	}
	return obj.CompactSerialize()
}

// NewID is a random jti: 16 bytes, base64url.
func NewID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Algorithms are the signature algorithms a key file may be used with.
var Algorithms = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512}

// DefaultAlg is the algorithm a key signs with when none is configured.
func DefaultAlg(private any) jose.SignatureAlgorithm {
	switch private.(type) {
	case *rsa.PrivateKey:
		return jose.RS256
	case ed25519.PrivateKey:
		return jose.EdDSA
	case []byte:
		return jose.HS256
	case *ecdsa.PrivateKey:
		switch private.(*ecdsa.PrivateKey).Curve.Params().BitSize {
		case 384:
			return jose.ES384
		case 521:
			return jose.ES512
		}
	}
	return jose.ES256
}

// ParseAlg checks a configured algorithm name against Algorithms.
func ParseAlg(s string) (jose.SignatureAlgorithm, error) {
	for _, a := range Algorithms {
		if string(a) == s {
			return a, nil
		}
	}
	names := make([]string, len(Algorithms))
	for i, a := range Algorithms {
		names[i] = string(a)
	}
	return "", fmt.Errorf("%q is not one of %s", s, strings.Join(names, "|"))
}

// LoadPrivateKey reads a PEM private key (PKCS #8, SEC 1 EC or PKCS #1 RSA).
func LoadPrivateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePrivateKey(b)
}

// ParsePrivateKey parses the first PEM private key block in b.
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key block (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("a %T cannot sign", k)
			}
			return s, nil
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(blk.Bytes)
		}
	}
}

// EncodePrivateKey is the PKCS #8 PEM of k, for fixtures.
func EncodePrivateKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
