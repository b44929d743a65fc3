package vrchat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// Upload completion under every plausible answer VRChat may give after a
// finish (the version-level status is unrecorded), with and without
// processing polls, for a simple and a multipart upload.

// completionVariants are the emulator's plausible answers after a finish.
func completionVariants() []vrchattest.Options {
	var out []vrchattest.Options
	for _, status := range []string{vrchattest.VersionComplete, vrchattest.VersionQueued, vrchattest.VersionWaiting} {
		for _, polls := range []int{0, 3} {
			for _, entryPolls := range []int{0, 2} {
				out = append(out, vrchattest.Options{VersionStatusAfterFinish: status, QueuedPolls: polls,
					EntryQueuedPolls: entryPolls, MultipartThreshold: 1 << 20, MinPartSize: 1 << 20})
			}
		}
	}
	return out
}

func variantName(o vrchattest.Options) string {
	return fmt.Sprintf("%s/polls=%d/entrypolls=%d", o.VersionStatusAfterFinish, o.QueuedPolls, o.EntryQueuedPolls)
}

var smallParts = vrchat.UploadOptions{PartSize: 1 << 20, PollInterval: fastUploads.PollInterval, PollMaxInterval: fastUploads.PollMaxInterval}

// listed returns the names store.List shows in a File's directory.
func listed(t *testing.T, env *writeEnv, id string) string {
	t.Helper()
	l, err := env.store.List(context.Background(), fileDir(id))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range l {
		names = append(names, e.Name)
	}
	return strings.Join(names, " ")
}

func TestUploadCompletesUnderEveryAfterFinishAnswer(t *testing.T) {
	for _, o := range completionVariants() {
		t.Run(variantName(o), func(t *testing.T) {
			env := newWriteEnv(t, o, smallParts)
			ctx := context.Background()
			id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Work", Extension: ".bin"})
			small := []byte("version one, simple")
			big := generated(t, 3, 2<<20+777) // multipart: 2 parts
			e1, err := env.store.Upload(ctx, fileDir(id), "a.bin", source(small), nil)
			if err != nil {
				t.Fatal(err)
			}
			if e1.Name != "1.bin" {
				t.Errorf("first upload is %q", e1.Name)
			}
			if got := listed(t, env, id); got != "latest.bin 1.bin" {
				t.Errorf("after the first upload: %q", got)
			}
			// The next upload adds a version: the first one, whatever
			// status its record lags at, is never taken for a leftover.
			e2, err := env.store.Upload(ctx, fileDir(id), "b.bin", big, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := listed(t, env, id); got != "latest.bin 2.bin 1.bin" {
				t.Errorf("after the second upload: %q", got)
			}
			if n := env.route("DELETE /file/{id}/{v}"); n != 0 {
				t.Errorf("%d versions deleted", n)
			}
			if got := env.readAll(t, e1); !bytes.Equal(got, small) {
				t.Error("version 1 reads back wrong")
			}
			got := env.readAll(t, e2)
			if want := readSource(t, big); !bytes.Equal(got, want) {
				t.Error("version 2 reads back wrong")
			}
			if n := env.route("PUT s3 part"); n != 2 {
				t.Errorf("%d parts, want 2", n)
			}
		})
	}
}

func readSource(t *testing.T, src remote.Source) []byte {
	t.Helper()
	b := make([]byte, src.Size)
	if _, err := src.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// An entry VRChat reports in "error" fails the upload, even while the
// version-level status says nothing; the next upload of the data
// replaces the errored version (deleted first, as the SDK does).
func TestEntryErrorFailsTheUpload(t *testing.T) {
	for _, o := range completionVariants() {
		for _, kind := range []string{"file", "signature"} {
			t.Run(variantName(o)+"/"+kind, func(t *testing.T) {
				env := newWriteEnv(t, o, smallParts)
				ctx := context.Background()
				id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Err", Extension: ".bin",
					Versions: []vrchattest.VersionSpec{{Content: []byte("kept")}}})
				data := []byte("new data VRChat fails to process")
				env.srv.SetEntryError(kind)
				_, err := env.store.Upload(ctx, fileDir(id), "x.bin", source(data), nil)
				if err == nil {
					t.Fatal("upload with an errored entry succeeded")
				}
				for _, sentinel := range []error{remote.ErrTimeout, remote.ErrNotFound, remote.ErrAuth, remote.ErrInvalid, remote.ErrConflict} {
					if errors.Is(err, sentinel) {
						t.Errorf("error %v carries %v (it must be EIO)", err, sentinel)
					}
				}
				if !strings.Contains(err.Error(), "the "+kind+" of version 2") || !strings.Contains(err.Error(), `"error"`) {
					t.Errorf("error %q does not say which entry failed", err)
				}
				if kind == "file" && env.route("PUT /file/{id}/{v}/{type}/start") != 1 {
					t.Errorf("the signature was sent after the file failed (%d starts)", env.route("PUT /file/{id}/{v}/{type}/start"))
				}
				if got := listed(t, env, id); got != "latest.bin 1.bin" {
					t.Errorf("the errored version is listed: %q", got)
				}

				env.srv.SetEntryError("")
				e, err := env.store.Upload(ctx, fileDir(id), "x.bin", source(data), nil)
				if err != nil {
					t.Fatal(err)
				}
				if e.Name != "2.bin" || env.route("DELETE /file/{id}/{v}") != 1 {
					t.Errorf("retry gave %q after %d deletes; want 2.bin replacing the errored version", e.Name, env.route("DELETE /file/{id}/{v}"))
				}
				if got := env.readAll(t, e); !bytes.Equal(got, data) {
					t.Error("retry reads back wrong")
				}
			})
		}
	}
}

// Every category but "simple" is uploaded in parts, as the SDK does:
// "queued", FileData.category's spec default, too. The emulator refuses a
// simple PUT for such an entry, as S3 would refuse an unsigned upload.
func TestQueuedCategoryIsUploadedInParts(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{LargeCategory: vrchattest.CategoryQueued, MultipartThreshold: 1 << 20, MinPartSize: 1 << 20}, smallParts)
	id := env.srv.AddFile(vrchattest.FileSpec{OwnerID: env.user, Name: "Big", Extension: ".vrcw"})
	src := generated(t, 9, 3<<20+5)
	e, err := env.store.Upload(context.Background(), fileDir(id), "w.vrcw", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := env.file(t, id)
	if c := f.Versions[1].File.Category; c != "queued" {
		t.Fatalf("category %q; the variant did not apply", c)
	}
	if n := env.route("PUT s3 part"); n != 3 {
		t.Errorf("%d parts, want 3", n)
	}
	if n := env.route("PUT s3"); n != 1 { // the signature, simple
		t.Errorf("%d simple PUTs, want 1 (the signature)", n)
	}
	if got := env.readAll(t, e); !bytes.Equal(got, readSource(t, src)) {
		t.Error("read back differs")
	}
}
