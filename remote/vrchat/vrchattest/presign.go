package vrchattest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Pre-signed URLs in the S3 SigV2 query-string form (§4.2):
//
//	<S3URL>/files.vrchat.cloud/<key>?AWSAccessKeyId=FAKE&Expires=<unix>&Signature=<b64 hmac-sha1>[&partNumber=N&uploadId=X]
//
// The string to sign is SigV2's: method, Content-MD5, Content-Type,
// Expires, and the canonical resource (bucket, key, and the partNumber /
// uploadId sub-resources). The object store recomputes it from the
// request it receives, so a simple PUT must carry exactly the signed
// Content-MD5 and Content-Type, and a part PUT (signed with empty ones)
// must carry neither — the behaviour spec issue #124 describes.

// Bucket is the bucket name in object URLs.
const Bucket = "files.vrchat.cloud"

// AccessKeyID is the AWSAccessKeyId of every pre-signed URL.
const AccessKeyID = "FAKE"

func (s *Server) stringToSign(method, contentMD5, contentType string, expires int64, key, sub string) string {
	res := "/" + Bucket + "/" + key
	if sub != "" {
		res += "?" + sub
	}
	return method + "\n" + contentMD5 + "\n" + contentType + "\n" + strconv.FormatInt(expires, 10) + "\n" + res
}

func (s *Server) sign(sts string) string {
	m := hmac.New(sha1.New, s.secret)
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// subResource is the canonical "partNumber=N&uploadId=X" (sorted, as SigV2 wants).
func subResource(partNumber int, uploadID string) string {
	if partNumber == 0 {
		return ""
	}
	return "partNumber=" + strconv.Itoa(partNumber) + "&uploadId=" + uploadID
}

// presignLocked builds a pre-signed URL valid for the current URL TTL.
// Caller holds mu (for urlTTL).
func (s *Server) presignLocked(method, key, contentMD5, contentType string, partNumber int, uploadID string) string {
	exp := time.Now().Add(s.st.urlTTL).Unix()
	sub := subResource(partNumber, uploadID)
	sig := s.sign(s.stringToSign(method, contentMD5, contentType, exp, key, sub))
	q := "AWSAccessKeyId=" + AccessKeyID + "&Expires=" + strconv.FormatInt(exp, 10) + "&Signature=" + url.QueryEscape(sig)
	if sub != "" {
		q += "&partNumber=" + strconv.Itoa(partNumber) + "&uploadId=" + url.QueryEscape(uploadID)
	}
	return s.s3URL + "/" + Bucket + "/" + escapeKey(key) + "?" + q
}

func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
