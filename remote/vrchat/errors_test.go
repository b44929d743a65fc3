package vrchat

import "testing"

func TestDecodeError(t *testing.T) {
	cases := []struct {
		body string
		msg  string
		waf  bool
	}{
		{`{"error":{"message":"\"Missing Credentials\"","status_code":401}}`, "Missing Credentials", false},
		{`{"error":{"message":"File not found","status_code":404}}`, "File not found", false},
		{`{"error":"The endpoint you're looking for is not implemented by our system.","status_code":404}`, "The endpoint you're looking for is not implemented by our system.", false},
		{`{"error":{"message":"\"please identify yourself\"","status_code":403,"waf_code":13799}}`, "please identify yourself", true},
		{`<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`, "Request has expired", false},
		{``, "", false},
	}
	for _, c := range cases {
		msg, waf := decodeError([]byte(c.body))
		if msg != c.msg || waf != c.waf {
			t.Errorf("decodeError(%q) = %q, %v; want %q, %v", c.body, msg, waf, c.msg, c.waf)
		}
	}
}

func TestValidUserAgent(t *testing.T) {
	for ua, want := range map[string]bool{
		"filesmount/1.0 me@lab.org": true, "filesmount/dev https://example.org/x": true,
		"Go-http-client/1.1": false, "filesmount/1.0": false, "filesmount me@lab.org": false, "": false,
	} {
		if validUserAgent(ua) != want {
			t.Errorf("validUserAgent(%q) != %v", ua, want)
		}
	}
}

func TestMD5Bytes(t *testing.T) {
	if b := md5Bytes("1B2M2Y8AsgTpgAmY7PhCfg=="); len(b) != 16 {
		t.Errorf("valid base64 MD5 decoded to %d bytes", len(b))
	}
	for _, bad := range []string{"", "dGVzdA==", "not base64!", "d41d8cd98f00b204e9800998ecf8427e"} {
		if md5Bytes(bad) != nil {
			t.Errorf("md5Bytes(%q) accepted", bad)
		}
	}
}
