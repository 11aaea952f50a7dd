package errenvelope

import (
	"net/http"
	"regexp"
	"testing"
)

const (
	ctJSON    = "application/json"
	ctHTML    = "text/html; charset=utf-8"
	ctText    = "text/plain; charset=utf-8"
	envHeader = "application/json; charset=utf-8"
)

func h(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

const (
	expressHTML = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET /api/users</pre>\n</body>\n</html>\n"
	nginxHTML   = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
	stackTrace  = "java.lang.IllegalStateException: boom\n\tat com.example.Api.handle(Api.java:42)\n\tat com.example.Main.main(Main.java:7)\n"
	springBoot  = `{"timestamp":"2024-05-01T10:00:00.000+00:00","status":404,"error":"Not Found","message":"No static resource api/x.","path":"/api/x"}`
)

// TestUpstreamShapes: every upstream error shape of SPEC §4.1 behind the
// default configuration (4xx messages kept, 5xx withheld, GATEWAY codes).
func TestUpstreamShapes(t *testing.T) {
	startGateway(t)
	rows := []row{
		{name: "spring boot 404 keeps its message",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: springBoot},
			wantStatus: 404, wantBody: env("No static resource api/x.", "GATEWAY.0404"), envelope: true},
		{name: "spring boot 400 with empty message uses error",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"timestamp":"2024-05-01T10:00:00.000+00:00","status":400,"error":"Bad Request","message":"","path":"/api/x"}`},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "spring boot 500 withholds its message",
			reply:      reply{status: 500, header: h("Content-Type", ctJSON), body: `{"timestamp":"2024-05-01T10:00:00.000+00:00","status":500,"error":"Internal Server Error","message":"Connection refused: db:5432","path":"/api/x"}`},
			wantStatus: 500, wantBody: env("Internal Server Error", "GATEWAY.0500"), envelope: true},
		{name: "fastify validation error",
			reply:      reply{status: 400, header: h("Content-Type", "application/json; charset=utf-8"), body: `{"statusCode":400,"code":"FST_ERR_VALIDATION","error":"Bad Request","message":"body must have required property 'name'"}`},
			wantStatus: 400, wantBody: env("body must have required property 'name'", "GATEWAY.0400"), envelope: true},
		{name: "express html page",
			reply:      reply{status: 404, header: h("Content-Type", ctHTML, "X-Powered-By", "Express"), body: expressHTML},
			wantStatus: 404, wantBody: env("Not Found", "GATEWAY.0404"), envelope: true},
		{name: "django rest detail keeps WWW-Authenticate",
			reply:      reply{status: 401, header: h("Content-Type", ctJSON, "WWW-Authenticate", `Token realm="api"`), body: `{"detail":"Authentication credentials were not provided."}`},
			wantStatus: 401, wantBody: env("Authentication credentials were not provided.", "GATEWAY.0401"), envelope: true,
			wantHeader: h("WWW-Authenticate", `Token realm="api"`)},
		{name: "fastapi string detail",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: `{"detail":"Item not found"}`},
			wantStatus: 404, wantBody: env("Item not found", "GATEWAY.0404"), envelope: true},
		{name: "fastapi validation list detail",
			reply:      reply{status: 422, header: h("Content-Type", ctJSON), body: `{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{}}]}`},
			wantStatus: 422, wantBody: env("Field required", "GATEWAY.0422"), envelope: true},
		{name: "rfc 9457 problem details detail",
			reply:      reply{status: 403, header: h("Content-Type", "application/problem+json"), body: `{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.","detail":"Your current balance is 30, but that costs 50.","instance":"/account/12345/msgs/abc","balance":30}`},
			wantStatus: 403, wantBody: env("Your current balance is 30, but that costs 50.", "GATEWAY.0403"), envelope: true},
		{name: "rfc 9457 problem details title only",
			reply:      reply{status: 409, header: h("Content-Type", "application/problem+json"), body: `{"type":"about:blank","title":"Version conflict","status":409}`},
			wantStatus: 409, wantBody: env("Version conflict", "GATEWAY.0409"), envelope: true},
		{name: "google nested error",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}`},
			wantStatus: 404, wantBody: env("Requested entity was not found.", "GATEWAY.0404"), envelope: true},
		{name: "azure nested error",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: `{"error":{"code":"ResourceNotFound","message":"The Resource 'vm1' was not found."}}`},
			wantStatus: 404, wantBody: env("The Resource 'vm1' was not found.", "GATEWAY.0404"), envelope: true},
		{name: "nested envelope keeps its code",
			reply:      reply{status: 401, header: h("Content-Type", ctJSON), body: `{"error":{"error_code":"IAM.0002","error_msg":"Token expired."}}`},
			wantStatus: 401, wantBody: env("Token expired.", "IAM.0002"), envelope: true},
		{name: "oauth2 error description",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "Cache-Control", "no-store"), body: `{"error":"invalid_grant","error_description":"Refresh token expired"}`},
			wantStatus: 400, wantBody: env("Refresh token expired", "GATEWAY.0400"), envelope: true,
			wantHeader: h("Cache-Control", "no-store")},
		{name: "json api errors list",
			reply:      reply{status: 422, header: h("Content-Type", "application/vnd.api+json"), body: `{"errors":[{"status":"422","code":"VALIDATION","title":"Invalid Attribute","detail":"First name must contain at least two characters."}]}`},
			wantStatus: 422, wantBody: env("First name must contain at least two characters.", "GATEWAY.0422"), envelope: true},
		{name: "graphql style errors list",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"errors":[{"message":"Cannot query field \"nme\" on type \"User\"."}],"data":null}`},
			wantStatus: 400, wantBody: env(`Cannot query field "nme" on type "User".`, "GATEWAY.0400"), envelope: true},
		{name: "aws json type",
			reply:      reply{status: 400, header: h("Content-Type", "application/x-amz-json-1.0"), body: `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`},
			wantStatus: 400, wantBody: env("Requested resource not found", "GATEWAY.0400"), envelope: true},
		{name: "laravel message",
			reply:      reply{status: 422, header: h("Content-Type", ctJSON), body: `{"message":"The name field is required.","errors":{"name":["The name field is required."]}}`},
			wantStatus: 422, wantBody: env("The name field is required.", "GATEWAY.0422"), envelope: true},
		{name: "camel case errorMessage",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"errorCode":"E100","errorMessage":"Quantity must be positive."}`},
			wantStatus: 400, wantBody: env("Quantity must be positive.", "GATEWAY.0400"), envelope: true},
		{name: "go http.Error text",
			reply:      reply{status: 404, header: h("Content-Type", ctText, "X-Content-Type-Options", "nosniff"), body: "404 page not found\n"},
			wantStatus: 404, wantBody: env("404 page not found", "GATEWAY.0404"), envelope: true,
			wantHeader: h("X-Content-Type-Options", "nosniff")},
		{name: "text with surrounding space is trimmed",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: " Quantity must be positive. "},
			wantStatus: 400, wantBody: env("Quantity must be positive.", "GATEWAY.0400"), envelope: true},
		{name: "json message with one leading space is trimmed",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"message":" Quantity must be positive."}`},
			wantStatus: 400, wantBody: env("Quantity must be positive.", "GATEWAY.0400"), envelope: true},
		{name: "envoy text 5xx withheld",
			reply:      reply{status: 503, header: h("Content-Type", "text/plain"), body: "no healthy upstream"},
			wantStatus: 503, wantBody: env("Service Unavailable", "GATEWAY.0503"), envelope: true},
		{name: "multi-line text is never a message",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: stackTrace},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "nginx html page hides its banner",
			reply:      reply{status: 502, header: h("Content-Type", "text/html", "Server", "nginx/1.25.3"), body: nginxHTML},
			wantStatus: 502, wantBody: env("Bad Gateway", "GATEWAY.0502"), envelope: true},
		{name: "xml error",
			reply:      reply{status: 400, header: h("Content-Type", "application/xml"), body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "empty body without content type",
			reply:      reply{status: 401, header: h("Content-Type", "none", "WWW-Authenticate", `Bearer realm="api"`)},
			wantStatus: 401, wantBody: env("Unauthorized", "GATEWAY.0401"), envelope: true,
			wantHeader: h("WWW-Authenticate", `Bearer realm="api"`)},
		{name: "empty json body",
			reply:      reply{status: 500, header: h("Content-Type", ctJSON)},
			wantStatus: 500, wantBody: env("Internal Server Error", "GATEWAY.0500"), envelope: true},
		{name: "status without reason phrase",
			reply:      reply{status: 499, header: h("Content-Type", ctHTML), body: "<p>closed</p>"},
			wantStatus: 499, wantBody: env("Error", "GATEWAY.0499"), envelope: true},
	}
	for _, rw := range rows {
		rw.route = "/default"
		t.Run(rw.name, rw.run)
	}
}

// TestConformance: conforming envelopes pass byte for byte; near-misses
// are rewritten (SPEC §3).
func TestConformance(t *testing.T) {
	startGateway(t)
	exact := `{"error_msg":"Request body is invalid.","error_code":"IAM.0011"}`
	rows := []row{
		{name: "conforming envelope passes byte for byte", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON, "ETag", `"v1"`, "X-Request-Id", "r-1"), body: exact},
			wantStatus: 400, wantBody: exact,
			wantHeader: h("Content-Type", ctJSON, "ETag", `"v1"`, "Content-Length", "64", "X-Request-Id", "r-1")},
		{name: "extra members and charset pass byte for byte", route: "/default",
			reply:      reply{status: 404, header: h("Content-Type", "Application/JSON; Charset=UTF-8"), body: "{\n  \"error_code\": \"IAM.0404\",\n  \"error_msg\": \"User not found.\",\n  \"request_id\": \"abc\",\n  \"details\": {\"id\": 7}\n}\n"},
			wantStatus: 404, wantBody: "{\n  \"error_code\": \"IAM.0404\",\n  \"error_msg\": \"User not found.\",\n  \"request_id\": \"abc\",\n  \"details\": {\"id\": 7}\n}\n",
			wantHeader: h("Content-Type", "Application/JSON; Charset=UTF-8")},
		{name: "conforming 5xx keeps its own message", route: "/default",
			reply:      reply{status: 503, header: h("Content-Type", ctJSON, "Retry-After", "30"), body: `{"error_msg":"Maintenance until 10:00.","error_code":"ORD.0503"}`},
			wantStatus: 503, wantBody: `{"error_msg":"Maintenance until 10:00.","error_code":"ORD.0503"}`,
			wantHeader: h("Retry-After", "30")},
		{name: "empty error_msg is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"","error_code":"IAM.0011"}`},
			wantStatus: 400, wantBody: env("Bad Request", "IAM.0011"), envelope: true},
		{name: "numeric error_code is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"Bad input.","error_code":11}`},
			wantStatus: 400, wantBody: env("Bad input.", "GATEWAY.0400"), envelope: true},
		{name: "right body with text/plain is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", "text/plain"), body: exact},
			wantStatus: 400, wantBody: exact, envelope: true},
		{name: "json array is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `[` + exact + `]`},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "invalid json is rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"Request body is invalid.","error_code":"IAM.0011"`},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "trailing bytes after the object are rewritten", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: exact + `{"more":1}`},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "code_pattern mismatch is rewritten", route: "/pattern",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_msg":"Bad input.","error_code":"iam-11"}`},
			wantStatus: 400, wantBody: env("Bad input.", "GATEWAY.0400"), envelope: true},
		{name: "code_pattern match passes", route: "/pattern",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: exact},
			wantStatus: 400, wantBody: exact, wantHeader: h("Content-Type", ctJSON)},
		{name: "problem+json envelope is rewritten for its media type", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", "application/problem+json"), body: exact},
			wantStatus: 400, wantBody: exact, envelope: true},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}
}

// TestPrecedence: each step of SPEC §4 for code and message.
func TestPrecedence(t *testing.T) {
	startGateway(t)
	rows := []row{
		{name: "map_code with message beats the upstream message", route: "/mapped",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"statusCode":400,"code":"FST_ERR_VALIDATION","error":"Bad Request","message":"body must have required property 'name'"}`},
			wantStatus: 400, wantBody: env("Request body is invalid.", "IAM.0011"), envelope: true},
		{name: "map_code without message keeps the upstream message", route: "/mapped",
			reply:      reply{status: 404, header: h("Content-Type", ctJSON), body: `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}`},
			wantStatus: 404, wantBody: env("Requested entity was not found.", "APIG.0404"), envelope: true},
		{name: "map_code on an oauth2 error", route: "/mapped",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error":"invalid_grant","error_description":"Refresh token expired"}`},
			wantStatus: 400, wantBody: env("Token refresh failed.", "IAM.0103"), envelope: true},
		{name: "map_code on an aws type", route: "/mapped",
			reply:      reply{status: 400, header: h("Content-Type", "application/x-amz-json-1.1"), body: `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`},
			wantStatus: 400, wantBody: env("Resource not found.", "APIG.0102"), envelope: true},
		{name: "upstream error_code beats map_status", route: "/mapped",
			reply:      reply{status: 401, header: h("Content-Type", ctJSON), body: `{"error":{"error_code":"IAM.0002","error_msg":"Token expired."}}`},
			wantStatus: 401, wantBody: env("Token expired.", "IAM.0002"), envelope: true},
		{name: "map_code beats the upstream's own error_code", route: "/mapped",
			reply:      reply{status: 400, header: h("Content-Type", ctJSON), body: `{"error_code":"invalid_grant","detail":"refresh token revoked"}`},
			wantStatus: 400, wantBody: env("Token refresh failed.", "IAM.0103"), envelope: true},
		{name: "map_code beats a nested error_code", route: "/mapped",
			reply:      reply{status: 404, header: h("Content-Type", ctText), body: `{"error":{"error_code":"NOT_FOUND","error_msg":"No such user."}}`},
			wantStatus: 404, wantBody: env("No such user.", "APIG.0404"), envelope: true},
		{name: "exact status beats range and class", route: "/mapped",
			reply:      reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 404, wantBody: env("API not found.", "APIG.0101"), envelope: true},
		{name: "exact status rule with a message and Retry-After kept", route: "/mapped",
			reply:      reply{status: 429, header: h("Content-Type", ctHTML, "Retry-After", "7"), body: "<h1>slow down</h1>"},
			wantStatus: 429, wantBody: env("Too many requests.", "APIG.0308"), envelope: true, wantHeader: h("Retry-After", "7")},
		{name: "upstream message beats the rule message on 4xx", route: "/mapped",
			reply:      reply{status: 429, header: h("Content-Type", ctText), body: "quota of 100 requests per minute exceeded"},
			wantStatus: 429, wantBody: env("quota of 100 requests per minute exceeded", "APIG.0308"), envelope: true},
		{name: "range beats class", route: "/mapped",
			reply:      reply{status: 412, header: h("Content-Type", ctHTML), body: "<p>no</p>"},
			wantStatus: 412, wantBody: env("Precondition Failed", "APIG.0410"), envelope: true},
		{name: "first written range wins at a tie", route: "/mapped",
			reply:      reply{status: 415, header: h("Content-Type", ctHTML), body: "<p>no</p>"},
			wantStatus: 415, wantBody: env("Unsupported Media Type", "APIG.0410"), envelope: true},
		{name: "second range where the first ends", route: "/mapped",
			reply:      reply{status: 422, header: h("Content-Type", ctHTML), body: "<p>no</p>"},
			wantStatus: 422, wantBody: env("Unprocessable Entity", "APIG.0415"), envelope: true},
		{name: "class when nothing narrower", route: "/mapped",
			reply:      reply{status: 403, header: h("Content-Type", ctHTML), body: "<p>no</p>"},
			wantStatus: 403, wantBody: env("Forbidden", "APIG.0400"), envelope: true},
		{name: "5xx class with the reason phrase", route: "/mapped",
			reply:      reply{status: 500, header: h("Content-Type", ctJSON), body: springBoot},
			wantStatus: 500, wantBody: env("Internal Server Error", "APIG.0200"), envelope: true},
		{name: "exact 502 rule message", route: "/mapped",
			reply:      reply{status: 502, header: h("Content-Type", "text/html"), body: nginxHTML},
			wantStatus: 502, wantBody: env("Backend unavailable.", "APIG.0201"), envelope: true},
		{name: "code_prefix fallback", route: "/default",
			reply:      reply{status: 409, header: h("Content-Type", ctHTML), body: "<p>conflict</p>"},
			wantStatus: 409, wantBody: env("Conflict", "GATEWAY.0409"), envelope: true},

		{name: "upstream_message 4xx keeps 4xx", route: "/default",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: "name is required"},
			wantStatus: 400, wantBody: env("name is required", "GATEWAY.0400"), envelope: true},
		{name: "upstream_message 4xx withholds 5xx", route: "/default",
			reply:      reply{status: 500, header: h("Content-Type", ctText), body: "database is down"},
			wantStatus: 500, wantBody: env("Internal Server Error", "GATEWAY.0500"), envelope: true},
		{name: "upstream_message 5xx keeps 5xx", route: "/msg5xx",
			reply:      reply{status: 500, header: h("Content-Type", ctText), body: "database is down"},
			wantStatus: 500, wantBody: env("database is down", "GATEWAY.0500"), envelope: true},
		{name: "upstream_message 5xx withholds 4xx", route: "/msg5xx",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: "name is required"},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "upstream_message all keeps 4xx", route: "/msgall",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: "name is required"},
			wantStatus: 400, wantBody: env("name is required", "GATEWAY.0400"), envelope: true},
		{name: "upstream_message all keeps 5xx", route: "/msgall",
			reply:      reply{status: 503, header: h("Content-Type", ctText), body: "no healthy upstream"},
			wantStatus: 503, wantBody: env("no healthy upstream", "GATEWAY.0503"), envelope: true},
		{name: "upstream_message none withholds 4xx", route: "/msgnone",
			reply:      reply{status: 400, header: h("Content-Type", ctText), body: "name is required"},
			wantStatus: 400, wantBody: env("Bad Request", "GATEWAY.0400"), envelope: true},
		{name: "upstream_message none withholds 5xx", route: "/msgnone",
			reply:      reply{status: 500, header: h("Content-Type", ctText), body: "database is down"},
			wantStatus: 500, wantBody: env("Internal Server Error", "GATEWAY.0500"), envelope: true},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}
}

// TestHeadersAndMethods: the headers of SPEC §2, HEAD, and responses that
// are not examined.
func TestHeadersAndMethods(t *testing.T) {
	startGateway(t)
	keptAndRemoved := h(
		"Content-Type", ctHTML,
		"ETag", `"abc"`, "Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT", "Content-Range", "bytes 0-10/20",
		"Accept-Ranges", "bytes", "Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ==", "Content-Disposition", "inline",
		"Content-Language", "de", "Content-Location", "/errors/404.html",
		"Retry-After", "120", "WWW-Authenticate", `Basic realm="x"`, "Allow", "GET, HEAD", "Set-Cookie", "s=1; Path=/",
		"Access-Control-Allow-Origin", "*", "X-Request-Id", "req-42", "Cache-Control", "no-cache",
	)
	rows := []row{
		{name: "body headers removed and the rest kept", route: "/default",
			reply:      reply{status: 404, header: keptAndRemoved, body: expressHTML, coding: "gzip"},
			wantStatus: 404, wantBody: env("Not Found", "GATEWAY.0404"), envelope: true,
			wantHeader: h("ETag", "", "Last-Modified", "", "Content-Range", "", "Accept-Ranges", "", "Content-MD5", "",
				"Content-Disposition", "", "Content-Language", "", "Content-Location", "", "Content-Encoding", "",
				"Retry-After", "120", "WWW-Authenticate", `Basic realm="x"`, "Allow", "GET, HEAD", "Set-Cookie", "s=1; Path=/",
				"Access-Control-Allow-Origin", "*", "X-Request-Id", "req-42", "Cache-Control", "no-cache")},
		{name: "head of an html error gets the envelope headers", route: "/default", method: http.MethodHead,
			reply:      reply{status: 404, header: h("Content-Type", ctHTML, "Content-Length", "2048")},
			wantStatus: 404, wantBody: "", envelope: true,
			wantHeader: h("Content-Length", "53")},
		{name: "head of a json error is untouched", route: "/default", method: http.MethodHead,
			reply:      reply{status: 404, header: h("Content-Type", ctJSON, "Content-Length", "64")},
			wantStatus: 404, wantBody: "", wantHeader: h("Content-Type", ctJSON, "Content-Length", "64")},
		{name: "200 html untouched", route: "/default",
			reply:      reply{status: 200, header: h("Content-Type", ctHTML, "ETag", `"x"`), body: "<p>fine</p>"},
			wantStatus: 200, wantBody: "<p>fine</p>", wantHeader: h("Content-Type", ctHTML, "ETag", `"x"`, "Content-Length", "11")},
		{name: "201 json untouched", route: "/default",
			reply:      reply{status: 201, header: h("Content-Type", ctJSON, "Location", "/orders/1"), body: `{"id":1}`},
			wantStatus: 201, wantBody: `{"id":1}`, wantHeader: h("Location", "/orders/1")},
		{name: "204 untouched", route: "/default",
			reply:      reply{status: 204, header: h("X-Thing", "1")},
			wantStatus: 204, wantBody: "", wantHeader: h("X-Thing", "1", "Content-Type", "")},
		{name: "302 untouched", route: "/default",
			reply:      reply{status: 302, header: h("Location", "/login", "Content-Type", ctHTML), body: `<a href="/login">Found</a>.`},
			wantStatus: 302, wantBody: `<a href="/login">Found</a>.`, wantHeader: h("Location", "/login", "Content-Type", ctHTML)},
		{name: "304 untouched", route: "/default",
			reply:      reply{status: 304, header: h("ETag", `"x"`)},
			wantStatus: 304, wantBody: "", wantHeader: h("ETag", `"x"`)},
		{name: "4xx outside statuses untouched", route: "/only5xx",
			reply:      reply{status: 404, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 404, wantBody: expressHTML, wantHeader: h("Content-Type", ctHTML)},
		{name: "5xx inside statuses rewritten", route: "/only5xx",
			reply:      reply{status: 500, header: h("Content-Type", ctHTML), body: expressHTML},
			wantStatus: 500, wantBody: env("Internal Server Error", "GATEWAY.0500"), envelope: true},
		{name: "respond directive is rewritten", route: "/respond",
			wantStatus: 410, wantBody: env("Gone", "GATEWAY.0410"), envelope: true},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestRequestIDAndFields: request_id from the upstream or generated, and
// extra fields with placeholders.
func TestRequestIDAndFields(t *testing.T) {
	startGateway(t)
	rows := []row{
		{name: "request id from the upstream", route: "/rid",
			reply:      reply{status: 403, header: h("Content-Type", ctHTML, "X-Request-Id", "abc-123"), body: "<p>no</p>"},
			wantStatus: 403, wantBody: `{"error_msg":"Forbidden","error_code":"GATEWAY.0403","request_id":"abc-123","path":"/r/rid-request-id-from-the-upstream","service":"orders"}`,
			envelope: true, extraMembers: []string{"request_id", "path", "service"}, wantHeader: h("X-Request-Id", "abc-123")},
		{name: "placeholders in a rule message", route: "/rid",
			reply:      reply{status: 404, header: h("Content-Type", ctHTML, "X-Request-Id", "r-9"), body: "<p>no</p>"},
			wantStatus: 404, wantBody: `{"error_msg":"No route for GET /r/rid-placeholders-in-a-rule-message.","error_code":"GATEWAY.0404","request_id":"r-9","path":"/r/rid-placeholders-in-a-rule-message","service":"orders"}`,
			envelope: true, extraMembers: []string{"request_id", "path", "service"}},
		{name: "braces from the upstream are not placeholders", route: "/rid",
			reply:      reply{status: 400, header: h("Content-Type", ctText, "X-Request-Id", "r-10"), body: "bad value {http.request.uri.path} in {env.HOME}"},
			wantStatus: 400, wantBody: `{"error_msg":"bad value {http.request.uri.path} in {env.HOME}","error_code":"GATEWAY.0400","request_id":"r-10","path":"/r/rid-braces-from-the-upstream-are-not-placeholders","service":"orders"}`,
			envelope: true, extraMembers: []string{"request_id", "path", "service"}},
	}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}

	t.Run("gateway error carries a generated request id, body and header agree", func(t *testing.T) {
		res, body := get(t, "/rid-down/x")
		m := checkEnvelope(t, body, "request_id")
		if res.StatusCode != 502 || !uuidRE.MatchString(m["request_id"]) || res.Header.Get("X-Request-Id") != m["request_id"] {
			t.Fatalf("%d %s, X-Request-Id %q", res.StatusCode, body, res.Header.Get("X-Request-Id"))
		}
	})
	rows = []row{{name: "gateway error keeps a request id set before it", route: "/rid-preset-down",
		wantStatus: 502, wantBody: `{"error_msg":"Bad Gateway","error_code":"GATEWAY.0502","request_id":"preset-7"}`,
		envelope: true, extraMembers: []string{"request_id"}, wantHeader: h("X-Request-Id", "preset-7")}}
	for _, rw := range rows {
		t.Run(rw.name, rw.run)
	}
	t.Run("request id generated when absent, body and header agree", func(t *testing.T) {
		res, body := get(t, "/rid"+path("generated-rid", reply{status: 500, header: h("Content-Type", ctHTML), body: "<p>x</p>"}))
		if res.StatusCode != 500 {
			t.Fatalf("status = %d", res.StatusCode)
		}
		m := checkEnvelope(t, body, "request_id", "path", "service")
		if !uuidRE.MatchString(m["request_id"]) {
			t.Fatalf("request_id %q is not a UUID", m["request_id"])
		}
		if got := res.Header.Get("X-Request-Id"); got != m["request_id"] {
			t.Fatalf("X-Request-Id %q, body request_id %q", got, m["request_id"])
		}
	})
}

// TestHeaderEditsStayInTheirResponse: Caddy's header handler edits header
// values in place; an edit of one rewritten response's Content-Type or
// Vary must not reach any other response.
func TestHeaderEditsStayInTheirResponse(t *testing.T) {
	startGateway(t)
	page := reply{status: 404, header: h("Content-Type", ctHTML), body: "<h1>Not Found</h1>"}
	for i := 0; i < 3; i++ {
		row{name: "edited by the header handler", route: "/edited", reply: page, wantStatus: 404,
			wantBody:   env("Not Found", "GATEWAY.0404"),
			wantHeader: h("Content-Type", "application/json; charset=UTF-8", "Vary", "Origin")}.run(t)
		row{name: "not edited", route: "/default", reply: page, wantStatus: 404,
			wantBody: env("Not Found", "GATEWAY.0404"), envelope: true,
			wantHeader: h("Content-Type", envHeader, "Vary", "")}.run(t)
		row{name: "vary not edited", route: "/diff-legacy", reply: page, wantStatus: 404,
			wantBody: env("Not here.", "LEG.0001"), envelope: true,
			wantHeader: h("Content-Type", envHeader, "Vary", "Accept")}.run(t)
	}
}
