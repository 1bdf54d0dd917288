package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// memory is a process's resident memory as the kernel counts it.
type memory struct {
	// PeakKB is VmHWM: the most resident memory the process ever held.
	PeakKB int64 `json:"peakKB"`
	// RSSKB is VmRSS: what it holds now.
	RSSKB int64 `json:"rssKB"`
}

// readMemory reads this process's memory from /proc/self/status (Linux).
func readMemory() (memory, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return memory{}, fmt.Errorf("reading peak memory: %w", err)
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(k) {
		case "VmHWM":
			dst = &m.PeakKB
		case "VmRSS":
			dst = &m.RSSKB
		default:
			continue
		}
		// "   123456 kB"
		fields := bytes.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("reading peak memory: %q: %w", sc.Text(), err)
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return memory{}, err
	}
	if m.PeakKB == 0 {
		return memory{}, fmt.Errorf("reading peak memory: no VmHWM in /proc/self/status")
	}
	return m, nil
}
