package errenvelope

// gRPC (SPEC §11.2): gRPC responses are never held, and a gRPC client
// that would get the envelope gets a gRPC trailers-only answer instead,
// with the envelope's code and message.

import (
	"net/http"
	"strconv"
	"strings"
)

// isGRPCType reports the media types of gRPC and gRPC-Web bodies, which
// are never held or changed.
func isGRPCType(mt string) bool {
	return mt == "application/grpc" || strings.HasPrefix(mt, "application/grpc+") || strings.HasPrefix(mt, "application/grpc-web")
}

// isGRPCRequest reports a gRPC request (not gRPC-Web, whose clients read
// HTTP statuses).
func isGRPCRequest(r *http.Request) bool {
	mt := mediaType(headerValue(r.Header, "Content-Type"))
	return mt == "application/grpc" || strings.HasPrefix(mt, "application/grpc+")
}

// grpcCode maps an HTTP status to a gRPC status code, as gRPC's own
// HTTP-to-gRPC table does.
func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest:
		return 13 // INTERNAL
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return 12 // UNIMPLEMENTED
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// grpcPercentEncode encodes a grpc-message as the gRPC HTTP/2 protocol
// says: bytes outside printable ASCII, and '%', as %XX.
func grpcPercentEncode(msg string) string {
	clean := true
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < 0x20 || c > 0x7e || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < 0x20 || c > 0x7e || c == '%' {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&0xF])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// writeGRPC answers a gRPC request with a trailers-only response: status
// 200, the gRPC status in the header section and no body, which gRPC
// clients read as the call's status. The replaced body's headers are
// gone already (clearBody).
func writeGRPC(w http.ResponseWriter, d *decision, hv *headerValues) {
	hdr := w.Header()
	delete(hdr, "Content-Length")
	hdr["Content-Type"] = hv.one("application/grpc")
	hdr["Grpc-Status"] = hv.one(strconv.Itoa(grpcCode(d.status)))
	hdr["Grpc-Message"] = hv.one(grpcPercentEncode(d.msg))
	hdr["Error-Code"] = hv.one(d.code)
	if d.requestID != "" {
		hdr["X-Request-Id"] = hv.one(d.requestID)
	}
	w.WriteHeader(http.StatusOK)
}
