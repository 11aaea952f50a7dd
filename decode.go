package errenvelope

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

var (
	errTooLarge    = errors.New("decoded body exceeds max_body")
	errBadEncoding = errors.New("unsupported or corrupt content coding")
)

// decodeBody undoes the content codings of an examined body, innermost
// last, holding at most limit decoded bytes: a compression bomb stops
// there. It returns errTooLarge past the limit and errBadEncoding for an
// unknown or corrupt coding; with either, when the failing coding is the
// last to undo, it also returns what was decoded before the failure (at
// most limit bytes), for keep_body.
func decodeBody(body []byte, contentEncoding string, limit int) ([]byte, error) {
	codings := strings.Split(contentEncoding, ",")
	for i := len(codings) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(codings[i]))
		if coding == "" || coding == "identity" {
			continue
		}
		out, err := decode(coding, body, limit)
		if err != nil {
			if i > 0 {
				out = nil // still encoded by the codings outside it
			}
			return out, err
		}
		body = out
	}
	return body, nil
}

// Decoders are pooled: a fresh gzip or zstd reader costs more than the
// rest of a rewrite (tens of KiB of window and tables).
var (
	gzipReaders   sync.Pool // *gzip.Reader
	zlibReaders   sync.Pool // io.ReadCloser implementing zlib.Resetter
	flateReaders  sync.Pool // io.ReadCloser implementing flate.Resetter
	brotliReaders sync.Pool // *brotli.Reader
	zstdReaders   sync.Pool // *zstd.Decoder
)

// decode undoes one content coding.
func decode(coding string, body []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(body)
	switch coding {
	case "gzip", "x-gzip":
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		defer gzipReaders.Put(zr)
		if zr.Reset(src) != nil {
			return nil, errBadEncoding
		}
		return readLimited(zr, limit)
	case "deflate":
		// "deflate" means zlib-wrapped (RFC 9110), but some servers send
		// raw DEFLATE; accept both, as browsers do.
		if zr, ok := zlibReaders.Get().(io.ReadCloser); ok {
			defer zlibReaders.Put(zr)
			if zr.(zlib.Resetter).Reset(src, nil) == nil {
				return readLimited(zr, limit)
			}
		} else if zr, err := zlib.NewReader(src); err == nil {
			defer zlibReaders.Put(zr)
			return readLimited(zr, limit)
		}
		fr, ok := flateReaders.Get().(io.ReadCloser)
		if ok {
			_ = fr.(flate.Resetter).Reset(bytes.NewReader(body), nil)
		} else {
			fr = flate.NewReader(bytes.NewReader(body))
		}
		defer flateReaders.Put(fr)
		return readLimited(fr, limit)
	case "br":
		br, _ := brotliReaders.Get().(*brotli.Reader)
		if br == nil {
			br = brotli.NewReader(src)
		} else if br.Reset(src) != nil {
			return nil, errBadEncoding
		}
		defer brotliReaders.Put(br)
		return readLimited(br, limit)
	case "zstd":
		zr, _ := zstdReaders.Get().(*zstd.Decoder)
		if zr == nil {
			var err error
			// One goroutine-free decoder per call; windows as RFC 8878
			// recommends for HTTP.
			zr, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20))
			if err != nil {
				return nil, errBadEncoding
			}
		}
		defer zstdReaders.Put(zr)
		if zr.Reset(src) != nil {
			return nil, errBadEncoding
		}
		out, err := readLimited(zr, limit)
		_ = zr.Reset(nil) // drop the reference to body
		return out, err
	}
	return nil, errBadEncoding
}

// readLimited reads r to its end, failing once more than limit bytes
// come. Its buffer grows as append's would but never past limit+1, so
// decoding holds at most about limit bytes.
func readLimited(r io.Reader, limit int) ([]byte, error) {
	buf := make([]byte, 0, min(limit+1, 4096))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return buf[:limit], errTooLarge
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > limit:
			return buf[:limit], errTooLarge
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, errBadEncoding
		}
	}
}
