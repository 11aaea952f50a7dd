package errenvelope

// gRPC (SPEC §11.2): gRPC responses are never held, and a gRPC client
// that would get the envelope gets a gRPC trailers-only answer instead,
// with the envelope's code and message.

import (
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
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
func grpcCode(status int) int32 {
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
func (p *policy) writeGRPC(w http.ResponseWriter, r *http.Request, d *decision, hv *headerValues) {
	hdr := w.Header()
	delete(hdr, "Content-Length")
	hdr["Content-Type"] = hv.one("application/grpc")
	hdr["Grpc-Status"] = hv.one(strconv.Itoa(int(grpcCode(d.status))))
	hdr["Grpc-Message"] = hv.one(grpcPercentEncode(d.msg))
	hdr["Grpc-Status-Details-Bin"] = hv.one(p.grpcDetailsOf(r, d, headerValue(hdr, "Retry-After")))
	hdr["Error-Code"] = hv.one(d.code)
	if d.requestID != "" {
		hdr["X-Request-Id"] = hv.one(d.requestID)
	}
	w.WriteHeader(http.StatusOK)
}

// grpcDetailsOf is grpcStatusDetails, encoded once per host and
// Retry-After for a static envelope's message without a request ID.
func (p *policy) grpcDetailsOf(r *http.Request, d *decision, retryAfter string) string {
	s := d.static
	if s == nil || d.requestID != "" || len(r.Host)+len(retryAfter) >= maxCachedKey {
		return p.grpcStatusDetails(r, d, retryAfter)
	}
	key := r.Host
	if retryAfter != "" {
		key += "\x00" + retryAfter
	}
	c := s.grpc[d.staticIdx]
	if v, ok := c.get(key); ok {
		return v
	}
	v := p.grpcStatusDetails(r, d, retryAfter)
	c.put(key, v)
	return v
}

// grpcStatusDetails is the google.rpc.Status of a gRPC answer (§15.1), as
// grpc-status-details-bin carries it: the same code and message as
// grpc-status and grpc-message, with an ErrorInfo (reason: error_code;
// domain: the request's host; metadata: request_id and the constant
// fields), a LocalizedMessage when the message is a catalog translation,
// and a RetryInfo when the response says Retry-After in seconds.
func (p *policy) grpcStatusDetails(r *http.Request, d *decision, retryAfter string) string {
	info := &errdetails.ErrorInfo{Reason: d.code, Domain: hostOnly(r.Host)}
	if d.requestID != "" || len(p.grpcMetadata) > 0 {
		info.Metadata = make(map[string]string, len(p.grpcMetadata)+1)
		for k, v := range p.grpcMetadata {
			info.Metadata[k] = v
		}
		if d.requestID != "" {
			info.Metadata["request_id"] = d.requestID
		}
	}
	details := []proto.Message{info}
	if d.lang != "" {
		details = append(details, &errdetails.LocalizedMessage{Locale: d.lang, Message: d.msg})
	}
	if secs, err := strconv.ParseUint(strings.TrimSpace(retryAfter), 10, 32); err == nil && retryAfter != "" {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)})
	}
	st := &spb.Status{Code: grpcCode(d.status), Message: d.msg}
	for _, m := range details {
		a, err := anypb.New(m)
		if err != nil {
			continue // a known message type always marshals
		}
		st.Details = append(st.Details, a)
	}
	b, err := proto.Marshal(st)
	if err != nil {
		return ""
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

// hostOnly is a Host header's host, without its port.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}
