package load

import (
	"strings"
	"testing"
	"time"
)

func TestParseStartAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{"", time.Time{}, ""},
		{"+30s", now.Add(30 * time.Second), ""},
		{"+0s", now, ""},
		{"2026-11-26T15:10:00Z", now.Add(10 * time.Minute), ""},
		{"2026-11-26T16:10:00.5+01:00", now.Add(10*time.Minute + 500*time.Millisecond), ""},
		{"2026-11-26T14:59:57Z", now.Add(-3 * time.Second), ""}, // a little late: within the slack
		{"2026-11-26T14:59:00Z", time.Time{}, "in the past"},
		{"+2h", time.Time{}, "ahead"},
		{"2026-11-26T17:00:00Z", time.Time{}, "ahead"},
		{"+-5s", time.Time{}, "RFC 3339"},
		{"30s", time.Time{}, "RFC 3339"},
		{"${START_AT}", time.Time{}, "RFC 3339"},
		{"15:00", time.Time{}, "RFC 3339"},
	}
	for _, tt := range tests {
		got, err := ParseStartAt(tt.in, now)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseStartAt(%q) = %v, %v; want one line containing %q", tt.in, got, err, tt.wantErr)
			}
		case err != nil || !got.Equal(tt.want):
			t.Errorf("ParseStartAt(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
