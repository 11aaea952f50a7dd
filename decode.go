package errenvelope

import (
	"bytes"
	"errors"
	"io"
	"strings"

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
// unknown or corrupt coding.
func decodeBody(body []byte, contentEncoding string, limit int) ([]byte, error) {
	codings := strings.Split(contentEncoding, ",")
	for i := len(codings) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(codings[i]))
		if coding == "" || coding == "identity" {
			continue
		}
		r, err := decoder(coding, body)
		if err != nil {
			return nil, errBadEncoding
		}
		out, err := readLimited(r, limit)
		if c, ok := r.(io.Closer); ok {
			_ = c.Close()
		}
		if err != nil {
			return nil, err
		}
		body = out
	}
	return body, nil
}

func decoder(coding string, body []byte) (io.Reader, error) {
	src := bytes.NewReader(body)
	switch coding {
	case "gzip", "x-gzip":
		return gzip.NewReader(src)
	case "deflate":
		// "deflate" means zlib-wrapped (RFC 9110), but some servers send
		// raw DEFLATE; accept both, as browsers do.
		if zr, err := zlib.NewReader(src); err == nil {
			return zr, nil
		}
		return flate.NewReader(bytes.NewReader(body)), nil
	case "br":
		return brotli.NewReader(src), nil
	case "zstd":
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
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
				return nil, errTooLarge
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > limit:
			return nil, errTooLarge
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, errBadEncoding
		}
	}
}
