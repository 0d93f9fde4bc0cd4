package mockserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Codes and refresh tokens are 256 random bits, base64url: unguessable
// (RFC 6749 §10.10) and safe in a URL without escaping.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Access tokens are not stored: the mock has no resource server to present
// them to, and under load storing one per refresh would be most of its
// memory. Each names its family and expiry instead, so revoking the family
// revokes its access tokens (RFC 6749 §4.1.2: "SHOULD revoke ... all tokens
// previously issued based on that authorization code") at no cost per token.
//
// accessID is base64url(family id | expiry unix seconds | 128 random bits).
func accessID(fam uint64, exp time.Time) string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:8], fam)
	binary.BigEndian.PutUint64(b[8:16], uint64(exp.Unix()))
	_, _ = rand.Read(b[16:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func parseAccessID(id string) (fam uint64, exp time.Time, ok bool) {
	var b [32]byte
	if len(id) != base64.RawURLEncoding.EncodedLen(len(b)) {
		return 0, time.Time{}, false
	}
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(id))
	if err != nil || n != len(b) {
		return 0, time.Time{}, false
	}
	return binary.BigEndian.Uint64(b[0:8]), time.Unix(int64(binary.BigEndian.Uint64(b[8:16])), 0), true
}

// jwtHeader is base64url({"alg":"HS256"}), the header of the dressipi
// document's example token.
const jwtHeader = "eyJhbGciOiJIUzI1NiJ9"

// signJWT returns an HS256 JWT with the claims the dressipi document's
// example carries (exp, iat, sub) plus jti, the access id.
func signJWT(key []byte, sub, jti string, iat, exp time.Time) string {
	claims := make([]byte, 0, 160)
	claims = append(claims, `{"exp":`...)
	claims = strconv.AppendInt(claims, exp.Unix(), 10)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, iat.Unix(), 10)
	claims = append(claims, `,"sub":`...)
	claims = appendString(claims, sub)
	claims = append(claims, `,"jti":`...)
	claims = appendString(claims, jti)
	claims = append(claims, '}')
	var sb strings.Builder
	sb.Grow(len(jwtHeader) + 1 + base64.RawURLEncoding.EncodedLen(len(claims)) + 1 + 43)
	sb.WriteString(jwtHeader)
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sb.String()))
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(mac.Sum(nil)))
	return sb.String()
}

// jwtID verifies tok's signature with key and returns its jti.
func jwtID(key []byte, tok string) (string, bool) {
	signed, sig, ok := cutLast(tok, '.')
	if !ok {
		return "", false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "", false
	}
	_, payload, ok := strings.Cut(signed, ".")
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if json.Unmarshal(raw, &c) != nil || c.JTI == "" {
		return "", false
	}
	return c.JTI, true
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
