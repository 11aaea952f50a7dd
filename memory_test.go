package errenvelope

import (
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryBoundedUnderLargeErrors: 32 concurrent upstream 500s with
// 16 MiB HTML bodies each (chunked, so only the held-body limit stops
// them) keep the process's peak heap within a small multiple of
// 32 × max_body. The upstream and the clients run in this process too;
// they stream from and to fixed buffers.
//
// With keep_body on (256 KiB, on /keepall, whose debug log lines carry
// the kept text too) the bound is the same: the kept bytes are the first
// of the held ones, and the rest is let go as without it.
func TestMemoryBoundedUnderLargeErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB through loopback")
	}
	startGateway(t)
	for _, route := range []string{"/default", "/keepall"} {
		t.Run(route, func(t *testing.T) { memoryBound(t, route) })
	}
}

func memoryBound(t *testing.T, route string) {
	const (
		clients  = 32
		bodySize = 16 << 20
		maxBody  = 1 << 20 // the /default route's max_body
	)
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = "<p>stack frame</p>\n"[i%19]
	}
	p := special("huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		for sent := 0; sent < bodySize; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})

	runtime.GC()
	baseline := heapBytes()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h := heapBytes(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := client.Get(gatewayAddr + route + p)
			if err != nil {
				errs <- err.Error()
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 500 || string(body) != env("Internal Server Error", "GATEWAY.0500") {
				errs <- res.Status + " " + string(body)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	grew := int64(peak.Load()) - int64(baseline)
	t.Logf("peak heap %.1f MiB over a baseline of %.1f MiB: %.1f MiB, %.2f × (32 × max_body)",
		float64(peak.Load())/(1<<20), float64(baseline)/(1<<20), float64(grew)/(1<<20), float64(grew)/float64(clients*maxBody))
	if limit := int64(4 * clients * maxBody); grew > limit {
		t.Fatalf("heap grew by %d bytes, over 4 × 32 × max_body = %d", grew, limit)
	}
}

// heapBytes is the live heap (objects, including not yet swept garbage).
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
