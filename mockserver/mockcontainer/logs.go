package mockcontainer

import (
	"fmt"
	"io"
)

// The container's log is bounded for reports: its start says how the mock was
// started, its end what happened last; a long middle is left out.
const (
	logHead = 16 << 10
	logTail = 48 << 10
)

// headTail reads r to the end and returns its first head bytes and its last
// tail bytes, joined by a line saying how many bytes were left out. Memory
// stays within head+tail whatever r holds. On a read error it returns what it
// has so far with the error.
func headTail(r io.Reader, head, tail int) (string, error) {
	first := make([]byte, 0, head)
	ring := make([]byte, tail) // the last bytes read past the head, circularly
	var ringLen, ringPos int   // bytes held in ring; next write position
	var skipped int64          // bytes past the head that fell out of ring

	buf := make([]byte, 32<<10)
	var readErr error
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		if room := head - len(first); room > 0 {
			take := min(room, len(chunk))
			first = append(first, chunk[:take]...)
			chunk = chunk[take:]
		}
		for len(chunk) > 0 && tail > 0 {
			c := copy(ring[ringPos:], chunk)
			chunk = chunk[c:]
			ringPos = (ringPos + c) % tail
			if ringLen+c > tail {
				skipped += int64(ringLen + c - tail)
				ringLen = tail
			} else {
				ringLen += c
			}
		}
		if tail == 0 {
			skipped += int64(len(chunk))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}

	out := make([]byte, 0, len(first)+ringLen+64)
	out = append(out, first...)
	if skipped > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = fmt.Appendf(out, "… %d bytes of log left out …\n", skipped)
	}
	if ringLen == tail {
		out = append(out, ring[ringPos:]...)
		out = append(out, ring[:ringPos]...)
	} else {
		out = append(out, ring[:ringLen]...)
	}
	return string(out), readErr
}
