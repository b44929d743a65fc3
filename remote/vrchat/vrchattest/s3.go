package vrchattest

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
)

// The object store: a minimal S3 that serves only pre-signed requests
// (§4.2, §4.3, §6). GET/HEAD serve finished objects with Range support;
// PUT stores a simple upload or a multipart part on disk.

type s3Error struct {
	XMLName           xml.Name `xml:"Error"`
	Code              string   `xml:"Code"`
	Message           string   `xml:"Message"`
	Key               string   `xml:"Key,omitempty"`
	AWSAccessKeyID    string   `xml:"AWSAccessKeyId,omitempty"`
	StringToSign      string   `xml:"StringToSign,omitempty"`
	SignatureProvided string   `xml:"SignatureProvided,omitempty"`
	Expires           string   `xml:"Expires,omitempty"`
	ServerTime        string   `xml:"ServerTime,omitempty"`
	UploadID          string   `xml:"UploadId,omitempty"`
	RequestID         string   `xml:"RequestId"`
	HostID            string   `xml:"HostId"`
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, e s3Error) {
	e.RequestID = fmt.Sprintf("%016X", time.Now().UnixNano())
	e.HostID = "vrchattest"
	b, _ := xml.Marshal(e)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(xml.Header))
		w.Write(b)
	}
}

// serveS3 is the object-store listener's handler.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h := sw.Header()
	h.Set("Server", "AmazonS3")
	h.Set("x-amz-request-id", fmt.Sprintf("%016X", start.UnixNano()))
	q := r.URL.Query()
	isPart := q.Has("partNumber") || q.Has("uploadId")
	key := s3RouteKey(r)
	s.countRoute(key)
	if r.Header.Get("Cookie") != "" {
		s.countCookieOnS3()
	}
	defer func() { s.logRequest("s3", r, sw, key, start) }()

	objKey, ok := strings.CutPrefix(r.URL.Path, "/"+Bucket+"/")
	if !ok || objKey == "" {
		writeS3Error(sw, r, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Access Denied"})
		return
	}
	if key == "UNKNOWN s3" {
		writeS3Error(sw, r, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Access Denied"})
		return
	}
	partNumber := 0
	uploadID := q.Get("uploadId")
	if isPart {
		n, err := strconv.Atoi(q.Get("partNumber"))
		if err != nil || n < 1 || n > 10000 || uploadID == "" {
			writeS3Error(sw, r, http.StatusBadRequest, s3Error{Code: "InvalidArgument",
				Message: "Part number must be an integer between 1 and 10000, inclusive"})
			return
		}
		partNumber = n
	}
	if !s.checkPresigned(sw, r, objKey, partNumber, uploadID) {
		return
	}
	switch {
	case r.Method == http.MethodPut && isPart:
		s.s3PutPart(sw, r, objKey, partNumber, uploadID)
	case r.Method == http.MethodPut:
		s.s3PutObject(sw, r, objKey)
	default:
		sw.count = s.countDownload
		s.s3Get(sw, r, objKey)
	}
}

// s3RouteKey is the Stats.ByRoute key of an object-store request.
func s3RouteKey(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return r.Method + " s3"
	case r.Method == http.MethodPut && (q.Has("partNumber") || q.Has("uploadId")):
		return "PUT s3 part"
	case r.Method == http.MethodPut:
		return "PUT s3"
	}
	return "UNKNOWN s3"
}

// checkPresigned verifies the query-string authentication (SigV2) against
// the request's own method, Content-MD5 and Content-Type.
func (s *Server) checkPresigned(w http.ResponseWriter, r *http.Request, key string, partNumber int, uploadID string) bool {
	q := r.URL.Query()
	akid, expS, sig := q.Get("AWSAccessKeyId"), q.Get("Expires"), q.Get("Signature")
	if akid == "" || expS == "" || sig == "" {
		writeS3Error(w, r, http.StatusForbidden, s3Error{Code: "AccessDenied",
			Message: "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"})
		return false
	}
	if akid != AccessKeyID {
		writeS3Error(w, r, http.StatusForbidden, s3Error{Code: "InvalidAccessKeyId",
			Message: "The AWS Access Key Id you provided does not exist in our records.", AWSAccessKeyID: akid})
		return false
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil {
		writeS3Error(w, r, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Invalid date (should be seconds since epoch): " + expS})
		return false
	}
	if now := time.Now(); now.Unix() > exp {
		writeS3Error(w, r, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Request has expired",
			Expires: time.Unix(exp, 0).UTC().Format(time.RFC3339), ServerTime: now.UTC().Format(time.RFC3339)})
		return false
	}
	sts := s.stringToSign(r.Method, r.Header.Get("Content-MD5"), r.Header.Get("Content-Type"), exp, key, subResource(partNumber, uploadID))
	if !hmac.Equal([]byte(s.sign(sts)), []byte(sig)) {
		writeS3Error(w, r, http.StatusForbidden, s3Error{Code: "SignatureDoesNotMatch",
			Message:        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			AWSAccessKeyID: akid, StringToSign: sts, SignatureProvided: sig})
		return false
	}
	return true
}

func noSuchKey(w http.ResponseWriter, r *http.Request, key string) {
	writeS3Error(w, r, http.StatusNotFound, s3Error{Code: "NoSuchKey", Message: "The specified key does not exist.", Key: key})
}

// GET/HEAD: the finished object, Range honoured (206/416) by
// http.ServeContent over a file or a generated reader.
// Options.AssetRefusedAtRedirect: the object of a non-image File is
// refused here ([INF]: a storage host or CDN that wants the game's own
// credentials; VRCX #416), with AccessDenied in S3's shape and the status
// of Options.AssetRefusal.
func (s *Server) s3Get(w *statusWriter, r *http.Request, key string) {
	s.mu.Lock()
	var o *object
	refuse := false
	if p := s.st.objects[key]; p != nil {
		o = p.obj
		refuse = s.opts.AssetRefusedAtRedirect && s.refusesAsset(p.f)
	}
	s.mu.Unlock()
	if o == nil {
		noSuchKey(w, r, key)
		return
	}
	if refuse {
		writeS3Error(w, r, s.opts.AssetRefusal, s3Error{Code: "AccessDenied", Message: "Access Denied"})
		return
	}
	if !s.serveObject(w, r, o) {
		noSuchKey(w, r, key) // removed under us
	}
}

// serveObject answers a GET or HEAD with o's bytes (Range honoured),
// corrupted if SetCorruptDownloads is on. It reports false, having
// written nothing, if the object was removed under us.
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, o *object) bool {
	rs, c, err := o.reader()
	if err != nil {
		return false
	}
	defer c.Close()
	if s.corrupt.Load() {
		rs = faults.CorruptSeeker(rs, o.size)
	}
	h := w.Header()
	h.Set("Content-Type", o.contentType)
	h.Set("ETag", o.etag)
	h.Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, "", o.modTime, rs)
	return true
}

// s3PutCommon checks what every PUT needs: a Content-Length (S3 refuses
// chunked bodies with 411) and, if present, a well-formed Content-MD5.
func s3PutCommon(w http.ResponseWriter, r *http.Request) (md5Header []byte, ok bool) {
	if r.ContentLength < 0 {
		writeS3Error(w, r, http.StatusLengthRequired, s3Error{Code: "MissingContentLength", Message: "You must provide the Content-Length HTTP header."})
		return nil, false
	}
	if h := r.Header.Get("Content-MD5"); h != "" {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != 16 {
			writeS3Error(w, r, http.StatusBadRequest, s3Error{Code: "InvalidDigest", Message: "The Content-MD5 you specified was invalid."})
			return nil, false
		}
		return b, true
	}
	return nil, true
}

// PUT of a simple upload. The object is staged; /finish publishes it.
// [INF] A PUT for a part that is no longer waiting (or was deleted) is
// refused with 403 AccessDenied, so that finished contents never change.
func (s *Server) s3PutObject(w http.ResponseWriter, r *http.Request, key string) {
	want, ok := s3PutCommon(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	p := s.st.objects[key]
	if p == nil || p.status != "waiting" || p.multipart() {
		s.mu.Unlock()
		writeS3Error(w, r, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Access Denied"})
		return
	}
	gen := s.nextGenLocked()
	s.mu.Unlock()

	o, err := s.writeObject("objects", gen, r.Body)
	if err != nil {
		writeS3Error(w, r, http.StatusBadRequest, s3Error{Code: "IncompleteBody", Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."})
		return
	}
	if want != nil && string(want) != string(o.md5[:]) {
		o.remove()
		writeS3Error(w, r, http.StatusBadRequest, s3Error{Code: "BadDigest", Message: "The Content-MD5 you specified did not match what we received."})
		return
	}
	o.contentType = r.Header.Get("Content-Type")
	s.mu.Lock()
	if s.st.objects[key] != p || p.status != "waiting" {
		s.mu.Unlock()
		o.remove()
		writeS3Error(w, r, http.StatusForbidden, s3Error{Code: "AccessDenied", Message: "Access Denied"})
		return
	}
	old := p.staged
	p.staged = o
	s.mu.Unlock()
	old.remove()
	w.Header().Set("ETag", s.answeredETag(o))
	w.WriteHeader(http.StatusOK)
}

// PUT of a multipart part: stored on disk, ETag "<hex md5>" (§4.3).
func (s *Server) s3PutPart(w http.ResponseWriter, r *http.Request, key string, n int, uploadID string) {
	if _, ok := s3PutCommon(w, r); !ok {
		return
	}
	noUpload := func() {
		writeS3Error(w, r, http.StatusNotFound, s3Error{Code: "NoSuchUpload",
			Message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", UploadID: uploadID})
	}
	s.mu.Lock()
	p := s.st.objects[key]
	if p == nil || p.uploadID != uploadID || p.status != "waiting" || p.finishing {
		s.mu.Unlock()
		noUpload()
		return
	}
	gen := s.nextGenLocked()
	s.mu.Unlock()

	o, err := s.writeObject("parts", gen, r.Body)
	if err != nil {
		writeS3Error(w, r, http.StatusBadRequest, s3Error{Code: "IncompleteBody", Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."})
		return
	}
	s.mu.Lock()
	if s.st.objects[key] != p || p.uploadID != uploadID || p.status != "waiting" || p.finishing {
		s.mu.Unlock()
		o.remove()
		noUpload()
		return
	}
	if p.uploads == nil {
		p.uploads = map[int]*object{}
	}
	old := p.uploads[n]
	p.uploads[n] = o
	s.mu.Unlock()
	old.remove()
	w.Header().Set("ETag", s.answeredETag(o))
	w.WriteHeader(http.StatusOK)
}
