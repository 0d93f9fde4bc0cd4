package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteJSON writes v as indented JSON to path, creating the parent
// directory. The file is written beside its final name and renamed into
// place, so a reader (the index page, a CI artefact upload) never sees half
// a report.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("reports: encoding %s: %w", path, err)
	}
	b = append(b, '\n')
	return WriteFile(path, b)
}

// WriteFile writes b to a temporary file in path's directory and renames it
// over path, creating the directory if needed. Report writers use it for
// every file they produce (JSON and HTML alike).
func WriteFile(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("reports: writing %s: %w", path, err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("reports: writing %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("reports: writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("reports: writing %s: %w", path, err)
	}
	return nil
}

// ReadConformance reads and validates a conformance report.
func ReadConformance(path string) (*Conformance, error) {
	v, err := ReadAny(path)
	if err != nil {
		return nil, err
	}
	c, ok := v.(*Conformance)
	if !ok {
		return nil, fmt.Errorf("reports: %s: kind is %q, want %q", path, KindLoad, KindConformance)
	}
	return c, nil
}

// ReadLoad reads and validates a load report.
func ReadLoad(path string) (*Load, error) {
	v, err := ReadAny(path)
	if err != nil {
		return nil, err
	}
	l, ok := v.(*Load)
	if !ok {
		return nil, fmt.Errorf("reports: %s: kind is %q, want %q", path, KindConformance, KindLoad)
	}
	return l, nil
}

// ReadAny reads a report of either kind, dispatching on its "kind" member,
// and validates it. It returns *Conformance or *Load.
func ReadAny(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reports: reading report: %w", err)
	}
	v, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("reports: %s: %w", path, err)
	}
	return v, nil
}

// Decode parses and validates one report of either kind; it returns
// *Conformance or *Load. Unknown members are ignored: within one
// api_version the schema only grows (see SCHEMA.md), so an older reader
// must accept a newer writer's report.
func Decode(b []byte) (any, error) {
	var head struct {
		APIVersion string `json:"api_version"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("not a tokenharness report: %w", err)
	}
	if head.APIVersion != APIVersion {
		return nil, fmt.Errorf("api_version %q is not %q: regenerate the report with this version of tokenharness", head.APIVersion, APIVersion)
	}
	var (
		v        any
		validate func() error
	)
	switch head.Kind {
	case KindConformance:
		c := &Conformance{}
		v, validate = c, c.Validate
	case KindLoad:
		l := &Load{}
		v, validate = l, l.Validate
	default:
		return nil, fmt.Errorf("kind %q is not one of %s|%s", head.Kind, KindConformance, KindLoad)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decoding %s report: %w", head.Kind, err)
	}
	if err := validate(); err != nil {
		return nil, err
	}
	return v, nil
}
