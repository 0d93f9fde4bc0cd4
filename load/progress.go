package load

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// progress keeps one-second windows of completions and prints a status
// line for each: the last second's rate and latency, errors so far, and
// time left. On a terminal the line updates in place; otherwise (CI logs)
// each second is its own line. With no writer it only keeps the windows.
type progress struct {
	w            io.Writer
	tty          bool
	name         string
	span         time.Duration
	total        uint64
	window       []float32 // latencies (ms) completed since the last line
	windowFailed int
	lagMax       float64
	done         uint64
	failed       uint64
	printed      bool
}

func newProgress(w io.Writer, tty bool, name string, s Schedule) *progress {
	return &progress{w: w, tty: tty, name: name, span: s.Span(), total: s.Hits()}
}

func (p *progress) add(r *vegeta.Result, a annotation) {
	p.done++
	if a.failed() {
		p.failed++
		p.windowFailed++
	}
	p.window = append(p.window, float32(ms(r.Latency)))
	p.lagMax = max(p.lagMax, ms(a.Lag))
}

// windowStats are the figures of the last second's completions.
type windowStats struct {
	n        int
	p50, p99 float64
	failed   int // unexpected failures among the n
}

// tick closes the last second's window, prints the status line, and
// returns the window's figures (the ramp stops on them).
func (p *progress) tick(elapsed time.Duration) windowStats {
	var ws windowStats
	if ws.n = len(p.window); ws.n > 0 {
		slices.Sort(p.window)
		ws.p50 = float64(p.window[(ws.n-1)/2])
		ws.p99 = float64(p.window[min(ws.n-1, ws.n*99/100)])
		ws.failed = p.windowFailed
	}
	p.print(elapsed, ws)
	p.window, p.windowFailed, p.lagMax = p.window[:0], 0, 0
	return ws
}

func (p *progress) print(elapsed time.Duration, ws windowStats) {
	if p.w == nil {
		return
	}
	errPct := 0.0
	if p.done > 0 {
		errPct = 100 * float64(p.failed) / float64(p.done)
	}
	left := max(p.span-elapsed, 0).Round(time.Second)
	line := fmt.Sprintf("%s %5.1fs/%s  %6d req/s  p50 %s p99 %s  errors %d (%.1f%%)  lag max %s  %d/%d done  %s left",
		p.name, min(elapsed, p.span).Seconds(), p.span.Round(100*time.Millisecond), ws.n,
		fmtMS(ws.p50), fmtMS(ws.p99), p.failed, errPct, fmtMS(p.lagMax), p.done, p.total, left)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.printed = true
}

// finish ends the updating line so the next output starts clean.
func (p *progress) finish() {
	if p.w != nil && p.tty && p.printed {
		fmt.Fprintln(p.w)
	}
}

func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}

// mintProgress prints, once a second while a token pool is minted, how many
// tokens are ready, the minting rate and the time left: against a real
// server each token walks a login and consent, and thousands of them take
// minutes that must not pass in silence.
type mintProgress struct {
	done  atomic.Int64
	stop  chan struct{}
	ended sync.WaitGroup
}

// startMintProgress starts reporting on w (nil: silent) for total tokens.
func startMintProgress(w io.Writer, what string, total int) *mintProgress {
	m := &mintProgress{stop: make(chan struct{})}
	if w == nil || total == 0 {
		return m
	}
	start := time.Now()
	m.ended.Add(1)
	go func() {
		defer m.ended.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				n := m.done.Load()
				rate := float64(n) / time.Since(start).Seconds()
				left := "unknown"
				if rate > 0 {
					left = (time.Duration(float64(int64(total)-n)/rate) * time.Second).Round(time.Second).String()
				}
				fmt.Fprintf(w, "load: minting %s: %d/%d ready (%.0f/s, %s left)\n", what, n, total, rate, left)
			}
		}
	}()
	return m
}

// add counts one minted token.
func (m *mintProgress) add() { m.done.Add(1) }

// end stops the reports.
func (m *mintProgress) end() {
	close(m.stop)
	m.ended.Wait()
}
