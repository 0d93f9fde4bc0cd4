package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPoolMaxAge is how old a saved pool (POOL_FILE) may be before a run
// refuses it: refresh tokens expire, and a pool of dead ones would show as
// invalid_grant failures of the target.
const DefaultPoolMaxAge = time.Hour

// poolFileVersion is the format of a saved pool; another one is refused.
const poolFileVersion = 1

// savedPool is a POOL_FILE: the live refresh tokens of a run's pool, with
// what they were minted for. It holds secrets: it is written 0600 and its
// tokens are never printed.
type savedPool struct {
	Version  int    `json:"version"`
	Target   string `json:"target"` // the token URL as reports show it (PublicURL)
	ClientID string `json:"client_id"`
	// MintedAt is when the oldest token was minted: a pool carried from
	// run to run keeps its first mint time, so POOL_MAX_AGE bounds the age
	// of its oldest token family.
	MintedAt      time.Time `json:"minted_at"`
	SavedAt       time.Time `json:"saved_at"`
	RefreshTokens []string  `json:"refresh_tokens"`
}

// readPool reads the pool saved at path for target and clientID. A missing
// file is (nil, nil): the run mints. A file for another target or client,
// older than maxAge, or unreadable is an error naming why, in one line.
func readPool(path, target, clientID string, maxAge time.Duration, now time.Time) (*savedPool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load: POOL_FILE: %w", err)
	}
	var sp savedPool
	if err := json.Unmarshal(b, &sp); err != nil {
		// Not the error text: it may quote a token.
		return nil, fmt.Errorf("load: POOL_FILE %s is not a saved token pool (invalid JSON): remove it to mint a new pool", path)
	}
	if maxAge <= 0 {
		maxAge = DefaultPoolMaxAge
	}
	switch age := now.Sub(sp.MintedAt); {
	case sp.Version != poolFileVersion:
		return nil, fmt.Errorf("load: POOL_FILE %s has format version %d, want %d: remove it to mint a new pool", path, sp.Version, poolFileVersion)
	case sp.Target != target:
		return nil, fmt.Errorf("load: POOL_FILE %s holds tokens for target %s, not %s: use another POOL_FILE or remove it", path, sp.Target, target)
	case sp.ClientID != clientID:
		return nil, fmt.Errorf("load: POOL_FILE %s holds tokens for client %q, not %q: use another POOL_FILE or remove it", path, sp.ClientID, clientID)
	case sp.MintedAt.IsZero() || age > maxAge:
		return nil, fmt.Errorf("load: POOL_FILE %s was minted %s ago, more than POOL_MAX_AGE %s: remove it to mint a new pool, or raise POOL_MAX_AGE", path, age.Round(time.Second), maxAge)
	case age < -time.Minute:
		return nil, fmt.Errorf("load: POOL_FILE %s was minted in the future (%s): remove it to mint a new pool", path, sp.MintedAt.Format(time.RFC3339))
	}
	live := sp.RefreshTokens[:0]
	for _, t := range sp.RefreshTokens {
		if t != "" {
			live = append(live, t)
		}
	}
	sp.RefreshTokens = live
	return &sp, nil
}

// writePool saves sp at path, readable by its owner only (it holds live
// refresh tokens), through a temporary file renamed into place so a reader
// never sees half a pool.
func writePool(path string, sp *savedPool) error {
	sp.Version = poolFileVersion
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return fmt.Errorf("load: save POOL_FILE: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("load: save POOL_FILE: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("load: save POOL_FILE: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("load: save POOL_FILE: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("load: save POOL_FILE: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("load: save POOL_FILE: %w", err)
	}
	return nil
}

// CheckPoolFile refuses a POOL_FILE inside the report directory: reports
// are published (CI artifacts, make serve), and the file holds live
// refresh tokens.
func CheckPoolFile(poolFile, reportDir string) error {
	if poolFile == "" || reportDir == "" {
		return nil
	}
	pf, err1 := filepath.Abs(poolFile)
	rd, err2 := filepath.Abs(reportDir)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("load: POOL_FILE: %w", err)
	}
	if rel, err := filepath.Rel(rd, pf); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("load: POOL_FILE %s is inside REPORT_DIR %s, whose files are published: it holds live refresh tokens, so keep it elsewhere", poolFile, reportDir)
	}
	return nil
}
