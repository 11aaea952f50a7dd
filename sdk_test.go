package errenvelope

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
)

// checkSDKReads hands an envelope to the Huawei Cloud Go SDK's error
// parser, as the SDK does with every response of status 400 and up, and
// checks it reads the envelope's code and message, and the request ID
// from the X-Request-Id header.
func checkSDKReads(t *testing.T, res *http.Response, body []byte, members map[string]string) {
	t.Helper()
	sr := sdkerr.NewServiceResponseError(&http.Response{
		StatusCode: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
	})
	if sr.ErrorCode != members["error_code"] || sr.ErrorMessage != members["error_msg"] || sr.StatusCode != res.StatusCode {
		t.Errorf("the Huawei Cloud SDK reads code %q, message %q, status %d from %s", sr.ErrorCode, sr.ErrorMessage, sr.StatusCode, body)
	}
	if rid := members["request_id"]; rid != "" && sr.RequestId != rid {
		t.Errorf("the Huawei Cloud SDK reads request ID %q, the envelope says %q", sr.RequestId, rid)
	}
}

// TestSDKRejectsBrokenEnvelopes: the SDK check above can fail: an envelope
// with an empty code is not read as one.
func TestSDKRejectsBrokenEnvelopes(t *testing.T) {
	sr := sdkerr.NewServiceResponseError(&http.Response{StatusCode: 400, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader([]byte(`{"error_msg":"Bad.","error_code":""}`)))})
	if sr.ErrorCode != "" || sr.ErrorMessage == "Bad." {
		t.Fatalf("the SDK read %+v from an envelope with an empty code", sr)
	}
}
