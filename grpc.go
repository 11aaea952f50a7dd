package errenvelope

// gRPC (SPEC §11.2): gRPC responses are never held, and a gRPC client
// that would get the envelope gets a gRPC trailers-only answer instead,
// with the envelope's code and message.

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	if details := p.grpcDetailsOf(r, d, headerValue(hdr, "Retry-After")); details != "" {
		hdr["Grpc-Status-Details-Bin"] = hv.one(details)
	}
	hdr["Error-Code"] = hv.one(d.code)
	if d.requestID != "" {
		hdr["X-Request-Id"] = hv.one(d.requestID)
	}
	w.WriteHeader(http.StatusOK)
}

// detailsKey is what the details of a static envelope's message depend on
// besides the envelope and its language.
type detailsKey struct {
	static           *staticEnvelope
	lang             int
	host, retryAfter string
}

// grpcDetailsOf is grpcStatusDetails, encoded once per host and
// Retry-After for a static envelope's message without a request ID.
func (p *policy) grpcDetailsOf(r *http.Request, d *decision, retryAfter string) string {
	if d.static == nil || d.requestID != "" || len(r.Host)+len(retryAfter) >= maxCachedKey {
		return p.grpcStatusDetails(r, d, retryAfter)
	}
	key := detailsKey{d.static, d.staticIdx, r.Host, retryAfter}
	if v, ok := p.grpcDetails.get(key); ok {
		return v
	}
	v := p.grpcStatusDetails(r, d, retryAfter)
	key.host, key.retryAfter = strings.Clone(r.Host), strings.Clone(retryAfter)
	p.grpcDetails.put(key, v)
	return v
}

// grpcStatusDetails is the google.rpc.Status of a gRPC answer (§15.1), as
// grpc-status-details-bin carries it: the same code and message as
// grpc-status and grpc-message, with an ErrorInfo (reason: error_code;
// domain: the request's host; metadata: request_id and the constant
// fields), a LocalizedMessage when the message is a catalog translation,
// and a RetryInfo when the response says Retry-After in seconds. Text
// from the request or the upstream that is not UTF-8, which protobuf
// strings must be, has U+FFFD for its invalid bytes, as in the JSON
// envelope. "" when it cannot be encoded, which only a bug can cause.
func (p *policy) grpcStatusDetails(r *http.Request, d *decision, retryAfter string) string {
	info := &errdetails.ErrorInfo{Reason: validUTF8(d.code), Domain: validUTF8(hostOnly(r.Host))}
	if d.requestID != "" || len(p.grpcMetadata) > 0 {
		info.Metadata = make(map[string]string, len(p.grpcMetadata)+1)
		for k, v := range p.grpcMetadata {
			info.Metadata[k] = v
		}
		if d.requestID != "" {
			info.Metadata["request_id"] = validUTF8(d.requestID)
		}
	}
	msg := validUTF8(d.msg)
	details := []proto.Message{info}
	if d.lang != "" {
		details = append(details, &errdetails.LocalizedMessage{Locale: d.lang, Message: msg})
	}
	if secs, err := strconv.ParseUint(strings.TrimSpace(retryAfter), 10, 32); err == nil {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)})
	}
	st := &spb.Status{Code: grpcCode(d.status), Message: msg}
	for _, m := range details {
		a, err := anypb.New(m)
		if err != nil {
			return ""
		}
		st.Details = append(st.Details, a)
	}
	b, err := proto.Marshal(st)
	if err != nil {
		return ""
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

// validUTF8 is s, with U+FFFD for each run of bytes that is not UTF-8.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// hostOnly is a Host header's host, without its port or an IPv6
// address's brackets.
func hostOnly(host string) string {
	return (&url.URL{Host: host}).Hostname()
}
