// Command cpuload measures what a server spends on CPU per request: it
// sends a fixed number of requests to a URL over keep-alive connections and
// prints the CPU time the server's process (all its threads) used meanwhile,
// in nanoseconds per request, read from Linux's /proc/<pid>/task/*/schedstat.
//
//	cpuload -pid 1234 -n 20000 -c 32 -want 200 http://127.0.0.1:18001/ok
//
// Used by bench/run.sh: CPU time per request is what the project's cost
// targets are stated in, and it is steadier than requests per second on a
// shared machine.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// headerFlags collects the -H flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	pid := flag.Int("pid", 0, "the server's process ID")
	n := flag.Int("n", 20000, "requests to send")
	c := flag.Int("c", 32, "concurrent connections")
	want := flag.Int("want", 200, "the status every response must have")
	var headers headerFlags
	flag.Var(&headers, "H", "a request header, Name: value (repeatable)")
	flag.Parse()
	if *pid == 0 || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	url := flag.Arg(0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c, DisableCompression: true}}
	send := func() error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for _, h := range headers {
			if name, value, ok := strings.Cut(h, ":"); ok {
				req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
			}
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != *want {
			return fmt.Errorf("status %d, want %d", res.StatusCode, *want)
		}
		return nil
	}
	// Warm the connections up outside the measurement.
	for range *c {
		if err := send(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	before, err := cpuNanos(*pid)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var left atomic.Int64
	left.Store(int64(*n))
	var failed atomic.Value
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := send(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	after, err := cpuNanos(*pid)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err, _ := failed.Load().(error); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%.0f\n", float64(after-before)/float64(*n))
}

// cpuNanos is the CPU time all threads of a process have used, in ns.
func cpuNanos(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no schedstat for pid %d", pid)
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(t) //nolint:gosec // a /proc path made from the pid above
		if err != nil {
			continue // a thread that ended
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err == nil {
			total += v
		}
	}
	return total, nil
}
