// Package html renders tokenharness reports (package reports) as
// self-contained HTML pages: one report.html per run and an index.html for a
// report directory.
//
// "Self-contained" is a property the tests hold it to: styles are inline,
// charts are inline SVG computed in Go, there is no script and no external
// font, and no element loads anything when the page is opened, so a report
// can be attached to a ticket or opened from a CI artefact offline. The only
// absolute URLs are plain links a reader may choose to follow (a rule's
// source section in its RFC) and the target's own URL shown as text.
//
// Every text taken from a report passes through internal/redact again before
// it is written, even though the producers redact evidence already: the
// renderer is the last place a secret could leave the process.
package html

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"tokenharness/internal/redact"
	"tokenharness/reports"
)

//go:embed templates/*.tmpl templates/style.css
var assets embed.FS

// pages holds one parsed template set per page, each with the shared layout.
var pages = map[string]*template.Template{}

func init() {
	css, err := assets.ReadFile("templates/style.css")
	if err != nil {
		panic(err) // embedded at build time: missing means a broken build
	}
	funcs := template.FuncMap{
		"css":        func() template.CSS { return template.CSS(css) },
		"upper":      func(v reports.Verdict) string { return strings.ToUpper(string(v)) },
		"inc":        func(i int) int { return i + 1 },
		"apiVersion": func() string { return reports.APIVersion },
	}
	for _, name := range []string{"conformance", "load", "index", "compare"} {
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(assets,
			"templates/layout.tmpl", "templates/"+name+".tmpl"))
	}
}

// Link is a relative link to a file beside the report (report.json,
// junit.xml, vegeta's plot.html).
type Link struct {
	Label string
	Href  string
}

// Option adjusts how a report page is rendered.
type Option func(*options)

type options struct {
	links []Link
}

// WithLinks adds links to files that sit beside the report, shown under its
// title. Hrefs should be relative so the directory stays movable.
func WithLinks(links ...Link) Option {
	return func(o *options) { o.links = append(o.links, links...) }
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// page is what the shared layout needs.
type page struct {
	Title    string
	Kind     string // conformance, load, index: a class on <body>
	Subtitle string
	Links    []Link
}

func render(w io.Writer, name string, data any) error {
	if err := pages[name].ExecuteTemplate(w, "layout", data); err != nil {
		return fmt.Errorf("html: rendering %s page: %w", name, err)
	}
	return nil
}

// clean is the renderer's last line of defence: every report text goes
// through the redactor before it reaches a template.
func clean[T ~string](s T) string { return redact.String(string(s)) }
