package shard

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Shard
		wantErr bool
	}{
		{"", Whole, false},
		{"0/1", Shard{0, 1}, false},
		{"1/4", Shard{1, 4}, false},
		{" 2 / 3 ", Shard{2, 3}, false},
		{"3/3", Shard{}, true},
		{"0/0", Shard{}, true},
		{"1", Shard{}, true},
		{"a/b", Shard{}, true},
		{"-1/2", Shard{}, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestPart_AddsUp(t *testing.T) {
	t.Parallel()
	for _, total := range []int{0, 1, 7, 100, 101} {
		for n := uint64(1); n <= 5; n++ {
			sum := 0
			for i := range n {
				sum += Shard{i, n}.Part(total)
			}
			if sum != total {
				t.Errorf("parts of %d over %d shards add up to %d", total, n, sum)
			}
		}
	}
}

// evenly is a schedule with hit n due at n ms.
type evenly uint64

func (e evenly) At(n uint64) (time.Duration, bool) {
	return time.Duration(n) * time.Millisecond, n < uint64(e)
}
func (e evenly) Hits() uint64        { return uint64(e) }
func (e evenly) Span() time.Duration { return time.Duration(e) * time.Millisecond }

func TestSplit_ShardsCoverTheScheduleExactlyOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		hits, group uint64
		n           uint64
	}{
		{"even split", 100, 1, 4},
		{"uneven split", 101, 1, 3},
		{"race groups stay whole", 40, 4, 3},
		{"more shards than groups", 8, 4, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var all []time.Duration
			var total uint64
			for i := range tt.n {
				s := Shard{i, tt.n}.Split(evenly(tt.hits), tt.group)
				total += s.Hits()
				for k := range s.Hits() {
					at, ok := s.At(k)
					if !ok {
						t.Fatalf("shard %d: At(%d) not ok within Hits %d", i, k, s.Hits())
					}
					if k%tt.group != 0 {
						prev, _ := s.At(k - 1)
						if at != prev+time.Millisecond {
							t.Errorf("shard %d: group broken at hit %d", i, k)
						}
					}
					all = append(all, at)
				}
				if _, ok := s.At(s.Hits()); ok {
					t.Errorf("shard %d: At past the end is ok", i)
				}
			}
			if total != tt.hits {
				t.Errorf("shards have %d hits, want %d", total, tt.hits)
			}
			slices.Sort(all)
			for k, at := range all {
				if at != time.Duration(k)*time.Millisecond {
					t.Fatalf("hit %d missing or doubled (found %v)", k, at)
				}
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	for i := range 3 {
		if err := enc.Encode(&vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: time.Unix(int64(10-i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := Decode(bytes.NewReader(buf.Bytes()), func(*vegeta.Result) error { n++; return nil }); err != nil || n != 3 {
		t.Errorf("decoded %d results, err %v; want 3", n, err)
	}
	if err := Decode(bytes.NewReader(nil), func(*vegeta.Result) error { n++; return nil }); err != nil {
		t.Errorf("empty file: %v", err)
	}
	if err := Decode(strings.NewReader("not results"), func(*vegeta.Result) error { return nil }); err == nil {
		t.Error("garbage decoded without error")
	}

	dirs := []string{t.TempDir(), t.TempDir()}
	os.WriteFile(filepath.Join(dirs[0], ResultsFile), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dirs[1], ResultsFile), nil, 0o644)
	all, err := Merge(dirs...)
	if err != nil || len(all) != 3 || !all[0].Timestamp.Before(all[2].Timestamp) {
		t.Errorf("Merge = %d results, err %v; want 3 sorted by time", len(all), err)
	}
}
