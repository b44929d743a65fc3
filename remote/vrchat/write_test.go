package vrchat_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	librsync "github.com/balena-os/librsync-go"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// fastUploads polls quickly, so that tests do not wait VRChat's seconds.
var fastUploads = vrchat.UploadOptions{PollInterval: 20 * time.Millisecond, PollMaxInterval: 100 * time.Millisecond}

type writeEnv struct {
	srv   *vrchattest.Server
	user  string
	store *vrchat.Store
	c     *vrchat.Client
	root  remote.Entry
}

func newWriteEnv(t *testing.T, opts vrchattest.Options, up vrchat.UploadOptions) *writeEnv {
	t.Helper()
	opts.DataDir = t.TempDir()
	srv, err := vrchattest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	env := &writeEnv{srv: srv, user: srv.AddUser("writer", "pw")}
	env.store, env.c = env.newStore(t, up)
	env.root, _ = env.store.Root(context.Background())
	return env
}

// newStore is a fresh client and Store on the same session: what the daemon
// has after a restart.
func (env *writeEnv) newStore(t *testing.T, up vrchat.UploadOptions) (*vrchat.Store, *vrchat.Client) {
	t.Helper()
	auth, twoFA := env.srv.NewSession(env.user)
	c, err := vrchat.NewClient(vrchat.Config{URL: env.srv.URL(), UserAgent: ua,
		Cookies: vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}, Upload: up,
		// Small parts make hundreds of API requests; the real pace is
		// tested in throttle_test.go.
		Throttle: vrchat.ThrottleOptions{Rate: 200, Burst: 20}})
	if err != nil {
		t.Fatal(err)
	}
	return vrchat.NewStore(c), c
}

func source(b []byte) remote.Source {
	sum := md5.Sum(b)
	return remote.Source{ReaderAt: bytes.NewReader(b), Size: int64(len(b)), MD5: remote.KnownMD5(sum[:])}
}

// generated is a large source that the test does not hold in memory.
func generated(t *testing.T, seed, size int64) remote.Source {
	t.Helper()
	r := vrchattest.DeterministicContent(seed, size)
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		t.Fatal(err)
	}
	return remote.Source{ReaderAt: r, Size: size, MD5: remote.KnownMD5(h.Sum(nil))}
}

// sumOf is the digest a test source was built with.
func sumOf(src remote.Source) []byte {
	sum, _ := src.MD5()
	return sum
}

func fileDir(id string) remote.Entry { return remote.Entry{ID: "f/" + id, Name: "dir", IsDir: true} }

func (env *writeEnv) readAll(t *testing.T, e remote.Entry) []byte {
	t.Helper()
	b, err := env.store.Open(context.Background(), e, 0, -1)
	if err != nil {
		t.Fatalf("open %s: %v", e.ID, err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (env *writeEnv) file(t *testing.T, id string) *vrchat.File {
	t.Helper()
	f, err := env.c.File(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (env *writeEnv) route(key string) int64 { return env.srv.Stats().ByRoute[key] }

func TestUploadIntoNewFile(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	ctx := context.Background()
	dir, err := env.store.Mkdir(ctx, env.root, "My picture")
	if err != nil {
		t.Fatal(err)
	}
	if dir.ID != "newfile/My picture" || dir.Name != "My picture" || !dir.IsDir {
		t.Fatalf("mkdir gave %+v", dir)
	}
	if n := env.srv.Stats().Requests; n != 0 {
		t.Errorf("mkdir made %d requests; it should be lazy", n)
	}
	if list, err := env.store.List(ctx, dir); err != nil || len(list) != 0 {
		t.Errorf("new directory lists %v, %v", list, err)
	}
	if err := env.store.CheckName(dir, "a.png"); err != nil {
		t.Errorf("CheckName(a.png): %v", err)
	}
	png := vrchattest.PNG(32, 32, 1)
	e, err := env.store.Upload(ctx, dir, "a.png", source(png), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(e.ID, "v/"), "/1")
	if !strings.HasPrefix(e.ID, "v/file_") || e.Name != "1.png" || e.Size != int64(len(png)) || len(e.MD5) != 16 || !e.Immutable {
		t.Fatalf("upload gave %+v", e)
	}
	f := env.file(t, id)
	if f.Name != "My picture" || f.MimeType != "image/png" || f.Extension != ".png" || len(f.Versions) != 2 || f.Versions[1].Status != "complete" {
		t.Errorf("File %+v", f)
	}
	if got := env.readAll(t, e); !bytes.Equal(got, png) {
		t.Error("read back differs")
	}
	// The directory now shows the File's versions, and a second file
	// becomes version 2 of the same File.
	list, err := env.store.List(ctx, dir)
	if err != nil || len(list) != 2 || list[0].Name != "latest.png" || !reflect.DeepEqual(list[1], e) {
		t.Errorf("after upload the directory lists %+v, %v", list, err)
	}
	png2 := vrchattest.PNG(40, 40, 2)
	e2, err := env.store.Upload(ctx, dir, "b.png", source(png2), nil)
	if err != nil || e2.ID != "v/"+id+"/2" || e2.Name != "2.png" {
		t.Fatalf("second upload %+v, %v", e2, err)
	}
	if got := env.readAll(t, e2); !bytes.Equal(got, png2) {
		t.Error("read back of version 2 differs")
	}
	if err := env.store.CheckName(dir, "c.jpg"); !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), ".png") {
		t.Errorf("CheckName(c.jpg) in a .png File: %v", err)
	}
	files, _ := env.c.Files(ctx, "")
	if len(files) != 1 {
		t.Errorf("%d Files, want 1", len(files))
	}
	st := env.srv.Stats()
	if st.CookiesSeenOnS3 != 0 {
		t.Errorf("%d storage requests carried cookies", st.CookiesSeenOnS3)
	}
	if st.ByRoute["POST /file"] != 1 || st.ByRoute["POST /file/{id}"] != 2 || st.ByRoute["PUT s3"] != 4 {
		t.Errorf("routes %v", st.ByRoute)
	}
}

func TestNewVersionOfExistingFile(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	ctx := context.Background()
	old := []byte("old content")
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Data", Extension: ".bin",
		Versions: []vrchattest.VersionSpec{{Content: old}, {Content: []byte("never finished"), Status: "waiting"}}})
	dir := fileDir(id)
	oldEntry := remote.Entry{ID: "v/" + id + "/1", Name: "latest.bin"}
	content := bytes.Repeat([]byte("new content "), 1000)
	e, err := env.store.Upload(ctx, dir, "latest.bin", source(content), &oldEntry)
	if err != nil {
		t.Fatal(err)
	}
	// The stale waiting version 2 (other content) was replaced.
	if e.ID != "v/"+id+"/2" || e.Name != "2.bin" {
		t.Fatalf("upload gave %+v", e)
	}
	if got := env.readAll(t, e); !bytes.Equal(got, content) {
		t.Error("new version differs")
	}
	if got := env.readAll(t, remote.Entry{ID: "v/" + id + "/1"}); !bytes.Equal(got, old) {
		t.Error("the old version changed")
	}
	if f := env.file(t, id); len(f.Versions) != 3 {
		t.Errorf("%d versions, want 3", len(f.Versions))
	}
	if n := env.route("DELETE /file/{id}/{v}"); n != 1 {
		t.Errorf("%d version deletes, want 1 (the stale one)", n)
	}
	// A tag view of the File accepts versions too.
	e3, err := env.store.Upload(ctx, remote.Entry{ID: "tf/gallery/" + id, Name: "Data", IsDir: true}, "x.BIN", source([]byte("3")), nil)
	if err != nil || e3.Name != "3.bin" {
		t.Errorf("upload through a tag view: %+v, %v", e3, err)
	}
}

func TestMultipartUpload(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{MultipartThreshold: 1 << 20, MinPartSize: 1 << 20},
		vrchat.UploadOptions{PartSize: 1 << 20, PollInterval: 20 * time.Millisecond})
	ctx := context.Background()
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "World", Extension: ".vrcw"})
	src := generated(t, 7, 5<<20+512<<10) // 5.5 MiB: 5 parts, the last 1.5 MiB
	e, err := env.store.Upload(ctx, fileDir(id), "w.vrcw", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := env.file(t, id)
	if fd := f.Versions[1].File; fd.Category != "multipart" || fd.SizeInBytes != src.Size {
		t.Errorf("file part %+v", fd)
	}
	st := env.srv.Stats()
	// The signature (about 100 KB) is below the threshold: one simple PUT.
	if st.ByRoute["PUT s3 part"] != 5 || st.ByRoute["PUT s3"] != 1 || st.ByRoute["GET /file/{id}/{v}/{type}/status"] != 1 {
		t.Errorf("routes %v", st.ByRoute)
	}
	got := env.readAll(t, e)
	if sum := md5.Sum(got); !bytes.Equal(sum[:], sumOf(src)) {
		t.Error("read back differs")
	}
}

// A signature above the threshold goes up in parts too, read from the
// on-demand signature at part offsets.
func TestMultipartSignature(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{MultipartThreshold: 64 << 10, MinPartSize: 64 << 10},
		vrchat.UploadOptions{PartSize: 64 << 10, PollInterval: 20 * time.Millisecond})
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "P", Extension: ".vrcp"})
	src := generated(t, 12, 8<<20+1) // signature 147,492 bytes: 2 parts
	e, err := env.store.Upload(context.Background(), fileDir(id), "p.vrcp", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := env.file(t, id)
	if sig := f.Versions[1].Signature; sig.Category != "multipart" || sig.SizeInBytes != vrchat.SignatureSize(src.Size) {
		t.Errorf("signature part %+v", sig)
	}
	if n := env.route("PUT s3 part"); n != 128+2 {
		t.Errorf("%d parts, want 130", n)
	}
	// What landed is librsync's signature of the data.
	var want bytes.Buffer
	if _, err := librsync.Signature(io.NewSectionReader(src, 0, src.Size), &want, 2048, 32, librsync.BLAKE2_SIG_MAGIC); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, env.c.URL()+"/file/"+id+"/1/signature", nil)
	req.Header.Set("User-Agent", ua)
	k := env.c.Cookies()
	req.Header.Set("Cookie", "auth="+k.Auth+"; twoFactorAuth="+k.TwoFactorAuth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, want.Bytes()) {
		t.Errorf("stored signature: HTTP %d, %d bytes, equal to librsync's: %v", resp.StatusCode, len(got), bytes.Equal(got, want.Bytes()))
	}
	if sum := md5.Sum(env.readAll(t, e)); !bytes.Equal(sum[:], sumOf(src)) {
		t.Error("read back differs")
	}
}

// cancelAt cancels the upload when the file part reaches off: reads before
// the first one that reaches the end of the data are the signature pass,
// which precedes the upload.
type cancelAt struct {
	io.ReaderAt
	size, off int64
	cancel    func()
	uploading atomic.Bool
}

func (c *cancelAt) ReadAt(p []byte, off int64) (int, error) {
	if c.uploading.Load() && off+int64(len(p)) > c.off {
		c.cancel()
		return 0, context.Canceled
	}
	n, err := c.ReaderAt.ReadAt(p, off)
	if off+int64(n) >= c.size {
		c.uploading.Store(true)
	}
	return n, err
}

func TestMultipartResume(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{MultipartThreshold: 1 << 20, MinPartSize: 1 << 20},
		vrchat.UploadOptions{PartSize: 1 << 20, PollInterval: 20 * time.Millisecond})
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Avatar", Extension: ".vrca"})
	src := generated(t, 9, 5<<20+100)
	ctx, cancel := context.WithCancel(context.Background())
	interrupted := src
	interrupted.ReaderAt = &cancelAt{ReaderAt: src.ReaderAt, size: src.Size, off: 3 << 20, cancel: cancel}
	if _, err := env.store.Upload(ctx, fileDir(id), "a.vrca", interrupted, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	// Storage requests are counted when they arrive, maybe late: count
	// the starts, one per part (the 4th part's PUT was aborted).
	if n := env.route("PUT /file/{id}/{v}/{type}/start"); n != 4 {
		t.Fatalf("%d parts started before the interruption, want 4", n)
	}
	env.srv.ResetStats()

	e, err := env.store.Upload(context.Background(), fileDir(id), "a.vrca", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "v/"+id+"/1" {
		t.Errorf("resumed upload gave %s, want version 1", e.ID)
	}
	st := env.srv.Stats()
	// Parts 4 and 5, then the signature.
	if st.ByRoute["PUT /file/{id}/{v}/{type}/start"] != 3 || st.ByRoute["POST /file/{id}"] != 0 || st.ByRoute["GET /file/{id}/{v}/{type}/status"] != 1 {
		t.Errorf("resume routes %v", st.ByRoute)
	}
	if f := env.file(t, id); len(f.Versions) != 2 {
		t.Errorf("%d versions, want 2", len(f.Versions))
	}
	if sum := md5.Sum(env.readAll(t, e)); !bytes.Equal(sum[:], sumOf(src)) {
		t.Error("read back differs")
	}
}

func TestUploadRetryCreatesNothingTwice(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	ctx := context.Background()
	dir, _ := env.store.Mkdir(ctx, env.root, "Icon")
	src := source(vrchattest.PNG(16, 16, 3))
	e1, err := env.store.Upload(ctx, dir, "icon.png", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := env.store.Upload(ctx, dir, "icon.png", src, nil)
	if err != nil || !reflect.DeepEqual(e2, e1) {
		t.Fatalf("retry gave %+v, %v; first %+v", e2, err, e1)
	}
	// After a restart the directory's File is found again by name.
	store2, _ := env.newStore(t, fastUploads)
	e3, err := store2.Upload(ctx, dir, "icon.png", src, nil)
	if err != nil || !reflect.DeepEqual(e3, e1) {
		t.Fatalf("retry after restart gave %+v, %v; first %+v", e3, err, e1)
	}
	st := env.srv.Stats()
	if st.ByRoute["POST /file"] != 1 || st.ByRoute["POST /file/{id}"] != 1 {
		t.Errorf("routes %v", st.ByRoute)
	}
}

func TestNamesAndRefusals(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	ctx := context.Background()
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Pic", Extension: ".png",
		Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(8, 8, 1)}}})
	dir := fileDir(id)
	dir.Name = "Pic"
	// Before any listing, the File's extension is unknown: Upload checks.
	_, err := env.store.Upload(ctx, dir, "x.jpg", source([]byte("jpeg")), nil)
	if !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), ".png") || !strings.Contains(err.Error(), "x.jpg") {
		t.Errorf("wrong extension: %v", err)
	}
	if _, err := env.store.List(ctx, env.root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  remote.Entry
		name string
		want error
	}{
		{dir, "x.jpg", remote.ErrInvalid},
		{dir, "x", remote.ErrInvalid},
		{dir, "latest.png", nil},
		{dir, "7.PNG", nil},
		{env.root, "tags", remote.ErrInvalid},
		{env.root, "any name at all.png", nil},
		{remote.Entry{ID: "newfile/N", Name: "N"}, "a.vrca", nil},
		{remote.Entry{ID: "newfile/N", Name: "N"}, "noext", remote.ErrInvalid},
		{remote.Entry{ID: "tags", Name: "tags"}, "x", remote.ErrUnsupported},
		{remote.Entry{ID: "tag/gallery", Name: "gallery"}, "x.png", nil},
		{remote.Entry{ID: "tag/gallery", Name: "gallery"}, "x.vrca", remote.ErrInvalid},
	} {
		if err := env.store.CheckName(tc.dir, tc.name); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckName(%s, %q) = %v, want %v", tc.dir.ID, tc.name, err, tc.want)
		}
	}
	if _, err := env.store.Mkdir(ctx, dir, "sub"); !errors.Is(err, remote.ErrUnsupported) {
		t.Errorf("mkdir in a File: %v", err)
	}
	v1 := remote.Entry{ID: "v/" + id + "/1", Name: "1.png"}
	if _, err := env.store.Rename(ctx, dir, v1, dir, "2.png", nil); !errors.Is(err, remote.ErrUnsupported) || !strings.Contains(err.Error(), "cannot be renamed") {
		t.Errorf("rename: %v", err)
	}
	if _, err := env.store.Rename(ctx, env.root, dir, env.root, "Other", nil); !errors.Is(err, remote.ErrUnsupported) {
		t.Errorf("rename of a File: %v", err)
	}
	if err := env.store.Remove(ctx, dir, remote.Entry{ID: "a/" + id + "/1/", Name: "1.analysis.json"}); !errors.Is(err, remote.ErrReadOnly) {
		t.Errorf("remove analysis: %v", err)
	}
}

func TestQueuedVersionIsPolled(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{QueuedPolls: 3}, fastUploads)
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Q", Extension: ".png"})
	png := vrchattest.PNG(8, 8, 4)
	e, err := env.store.Upload(context.Background(), fileDir(id), "q.png", source(png), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := env.route("GET /file/{id}"); n < 4 {
		t.Errorf("%d polls; 3 answers say queued", n)
	}
	if got := env.readAll(t, e); !bytes.Equal(got, png) {
		t.Error("read back differs")
	}

	// A version that stays queued times out.
	env2 := newWriteEnv(t, vrchattest.Options{QueuedPolls: 1000},
		vrchat.UploadOptions{PollInterval: 10 * time.Millisecond, PollTimeout: 200 * time.Millisecond})
	id = env2.srv.AddFile(vrchattest.FileSpec{OwnerID: env2.user, Name: "Q", Extension: ".png"})
	_, err = env2.store.Upload(context.Background(), fileDir(id), "q.png", source(png), nil)
	if !errors.Is(err, remote.ErrTimeout) || !strings.Contains(err.Error(), `"Q"`) {
		t.Errorf("endless processing: %v", err)
	}
}

func TestRemoveVersionsAndFiles(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	ctx := context.Background()
	v := func(s string) vrchattest.VersionSpec { return vrchattest.VersionSpec{Content: []byte(s)} }
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Three", Extension: ".txt",
		Versions: []vrchattest.VersionSpec{v("one"), v("two"), v("three"), {Content: []byte("stuck"), Status: "waiting"}}})
	dir := fileDir(id)
	list, err := env.store.List(ctx, dir)
	if err != nil || len(list) != 4 {
		t.Fatalf("list %+v, %v", list, err)
	}
	latest, v3, v2, v1 := list[0], list[1], list[2], list[3]

	env.srv.ResetStats()
	err = env.store.Remove(ctx, dir, v1)
	if !errors.Is(err, remote.ErrNotPermitted) || !strings.Contains(err.Error(), "VRChat only deletes a File's newest version; delete versions newest first (rm -r works)") {
		t.Errorf("remove of a middle version: %v", err)
	}
	if n := env.route("DELETE /file/{id}/{v}"); n != 0 {
		t.Errorf("%d delete requests for a middle version", n)
	}
	// latest.txt is version 3: removing it deletes the stuck upload above
	// it, then version 3; 3.txt is then already gone.
	if err := env.store.Remove(ctx, dir, latest); err != nil {
		t.Fatal(err)
	}
	if err := env.store.Remove(ctx, dir, v3); err != nil {
		t.Errorf("removing 3.txt after latest.txt: %v", err)
	}
	if f := env.file(t, id); len(f.Versions) != 3 {
		t.Errorf("%d versions left, want 3 (0, 1, 2)", len(f.Versions))
	}
	if err := env.store.Rmdir(ctx, env.root, dir); !errors.Is(err, remote.ErrConflict) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("rmdir of a File with versions: %v", err)
	}
	for _, e := range []remote.Entry{v2, v1} {
		if err := env.store.Remove(ctx, dir, e); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := env.store.List(ctx, dir); err != nil || len(list) != 0 {
		t.Errorf("emptied File lists %+v, %v", list, err)
	}
	if err := env.store.Rmdir(ctx, env.root, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := env.c.File(ctx, id); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("File after rmdir: %v", err)
	}
	if n := env.route("DELETE /file/{id}"); n != 1 {
		t.Errorf("%d File deletes", n)
	}

	// A directory that never received an upload exists only locally.
	nd, _ := env.store.Mkdir(ctx, env.root, "Empty")
	env.srv.ResetStats()
	if err := env.store.Rmdir(ctx, env.root, nd); err != nil || env.srv.Stats().Requests != 0 {
		t.Errorf("rmdir of a lazy directory: %v, %d requests", err, env.srv.Stats().Requests)
	}
}

func TestImageIntoTagView(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	ctx := context.Background()
	png := vrchattest.PNG(24, 24, 5)
	e, err := env.store.Upload(ctx, remote.Entry{ID: "tag/gallery", Name: "gallery", IsDir: true}, "holiday.png", source(png), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(e.ID, "/1") || e.Name != "1.png" {
		t.Errorf("image upload gave %+v", e)
	}
	files, _ := env.c.Files(ctx, "gallery")
	if len(files) != 1 || files[0].MimeType != "image/png" {
		t.Fatalf("gallery Files %+v", files)
	}
	if got := env.readAll(t, e); !bytes.Equal(got, png) {
		t.Error("read back differs")
	}
}

// A 64 MiB upload (multipart file, simple signature) streams: the heap
// does not grow with the file.
func TestLargeUploadBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB upload")
	}
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Big", Extension: ".vrcw"})
	src := generated(t, 11, 64<<20)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	e, err := env.store.Upload(context.Background(), fileDir(id), "big.vrcw", src, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	growth := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("heap growth during a 64 MiB upload: %.1f MiB", float64(growth)/(1<<20))
	if growth > 24<<20 {
		t.Errorf("heap grew by %d MiB during a 64 MiB upload", growth>>20)
	}
	if e.Size != 64<<20 || !bytes.Equal(e.MD5, sumOf(src)) {
		t.Errorf("entry %+v", e)
	}
	if n := env.route("PUT s3 part"); n != 6 {
		t.Errorf("%d parts, want 6 (10 MiB parts, the last 14 MiB)", n)
	}
}

// TestNewDirectoryAfterRemovalChoosesItsExtensionAfresh: the extension a
// directory's first upload chose belongs to the File it created. Found by
// the model soak (seed 571707969): mkdir World, a .jpg whose version
// failed after POST /file landed, rmdir World (deleting that File), mkdir
// World again, and a .vrcw was refused ("its first file was a .jpg file").
func TestNewDirectoryAfterRemovalChoosesItsExtensionAfresh(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	ctx := context.Background()
	dir, err := env.store.Mkdir(ctx, env.root, "World")
	if err != nil {
		t.Fatal(err)
	}
	env.srv.Faults().Add(faults.Rule{Kind: faults.Status, Route: "POST /file/{id}", Status: 400, Count: 1})
	if _, err := env.store.Upload(ctx, dir, "a.jpg", source([]byte("not really a jpeg")), nil); err == nil {
		t.Fatal("the upload whose version was refused succeeded")
	}
	if err := env.store.CheckName(dir, "x.vrcw"); !errors.Is(err, remote.ErrInvalid) {
		t.Fatalf("while the .jpg's File stands, a .vrcw is accepted: %v", err)
	}
	// rmdir deletes the File the failed upload created; the directory
	// made again is a new File's, whatever its first file.
	if err := env.store.Rmdir(ctx, env.root, dir); err != nil {
		t.Fatal(err)
	}
	if dir, err = env.store.Mkdir(ctx, env.root, "World"); err != nil {
		t.Fatal(err)
	}
	if err := env.store.CheckName(dir, "x.vrcw"); err != nil {
		t.Errorf("after rmdir and mkdir: %v", err)
	}
	// Without rmdir: a first upload that failed before creating the File
	// leaves its choice until the directory is made again.
	other, _ := env.store.Mkdir(ctx, env.root, "Other")
	env.srv.Faults().Add(faults.Rule{Kind: faults.Status, Route: "POST /file", Status: 400, Count: 1})
	if _, err := env.store.Upload(ctx, other, "b.jpg", source([]byte("jpeg-ish")), nil); err == nil {
		t.Fatal("the upload whose File was refused succeeded")
	}
	if other, err = env.store.Mkdir(ctx, env.root, "Other"); err != nil {
		t.Fatal(err)
	}
	if err := env.store.CheckName(other, "y.vrca"); err != nil {
		t.Errorf("a directory made again after a first upload that created nothing: %v", err)
	}
}
