//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// failedCloseCase is one remote on which a new file's upload is made to
// fail once, by a fault on the request that creates it.
type failedCloseCase struct {
	name  string
	mount func(t *testing.T) (dir, cacheDir string, inj *faults.Injector)
	route string // the upload's creating request
	// landed is where the retry's data shows once uploaded: the name
	// itself on CBRAIN, the newest version on VRChat.
	landed func(name string) string
}

var failedCloseCases = []failedCloseCase{
	{"cbrain", func(t *testing.T) (string, string, *faults.Injector) {
		env := mountCBRAIN(t, envOptions{})
		return filepath.Join(env.mnt, "cbrain", "MainStore"), env.m.cacheDir, env.srv.Faults()
	}, "POST /userfiles", func(name string) string { return name }},
	{"vrchat", func(t *testing.T) (string, string, *faults.Injector) {
		env := mountVRChat(t, func(srv *vrchattest.Server, user string) {
			srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Notes", MimeType: "text/plain", Extension: ".txt",
				Versions: []vrchattest.VersionSpec{{Content: []byte("one\n")}}})
		})
		return filepath.Join(env.dir, "Notes"), env.m.cacheDir, env.srv.Faults()
	}, "POST /file/{id}", func(string) string { return "latest.txt" }},
}

// TestRetryAfterAFailedCloseStartsAfresh: `echo a >> f` whose upload
// fails, then at once `echo edd >> f`. Found by the model soak (seed
// 590334609): the second open reached the first file's node before the
// kernel's asynchronous release, while the kernel still held its size, and
// the O_APPEND write landed at offset 2 of a fresh copy: "\0\0edd\n".
// The failed close's data is in the recovery folder; the retry is a new
// file holding only what it wrote.
func TestRetryAfterAFailedCloseStartsAfresh(t *testing.T) {
	for _, tc := range failedCloseCases {
		t.Run(tc.name, func(t *testing.T) {
			dir, cacheDir, inj := tc.mount(t)
			for round := 0; round < 5; round++ {
				name := fmt.Sprintf("new%d.txt", round)
				inj.Add(faults.Rule{Kind: faults.Status, Status: 400, Route: tc.route, Count: 1})
				out, err := command("sh", "-c", "cd "+shellQuote(dir)+" && { echo a >> "+name+"; echo edd >> "+name+"; }")
				if err != nil {
					t.Fatalf("round %d: %v %s", round, err, out)
				}
				// (The shell ignores the close error of a redirection:
				// the recovery copy below shows that the close failed.)
				landed := tc.landed(name)
				if got := string(refreshed(t, filepath.Join(dir, landed))); got != "edd\n" {
					t.Errorf("round %d: %s holds %q, want %q", round, landed, got, "edd\n")
				}
				kept := filepath.Join(cacheDir, "recovery", filepath.Base(filepath.Dir(dir)), filepath.Base(dir), name)
				if got, err := os.ReadFile(kept); err != nil || string(got) != "a\n" {
					t.Errorf("round %d: recovery copy %s: %q %v", round, kept, got, err)
				}
			}
		})
	}
}

// TestWritesAfterAFailedCloseAreKept: a file open on two descriptors; the
// first close's upload fails and is handed back. What the other descriptor
// writes afterwards is kept too (handed back at its close, with an error),
// and the first recovery copy stays as the log described it: it is a copy,
// not a hard link the second descriptor writes through.
func TestWritesAfterAFailedCloseAreKept(t *testing.T) {
	for _, tc := range failedCloseCases {
		t.Run(tc.name, func(t *testing.T) {
			dir, cacheDir, inj := tc.mount(t)
			path := filepath.Join(dir, "two.txt")
			first, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := first.WriteString("first\n"); err != nil {
				t.Fatal(err)
			}
			second, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			inj.Add(faults.Rule{Kind: faults.Status, Status: 400, Route: tc.route, Count: 1})
			if err := first.Close(); err == nil {
				t.Fatal("the close whose upload failed reported no error")
			}
			if _, err := second.WriteString("second\n"); err != nil {
				t.Fatalf("write through the descriptor still open: %v", err)
			}
			if err := second.Close(); err == nil {
				t.Error("the close of data that cannot reach the remote any more reported no error")
			}
			kept := filepath.Join(cacheDir, "recovery", filepath.Base(filepath.Dir(dir)), filepath.Base(dir), "two.txt")
			for p, want := range map[string]string{kept: "first\n", kept + ".1": "first\nsecond\n"} {
				if got, err := os.ReadFile(p); err != nil || string(got) != want {
					t.Errorf("recovery copy %s: %q %v, want %q", filepath.Base(p), got, err, want)
				}
			}
			waitFor(t, "two.txt to be gone", func() bool {
				_, err := os.Stat(path)
				return os.IsNotExist(err)
			})
		})
	}
}

// TestFailedOverwriteStandsForTheRemoteAgain: a failed close of a file the
// remote has lets the file stand for the remote object again; the data
// written is in the recovery folder, and the next append starts from the
// remote content, at its size.
func TestFailedOverwriteStandsForTheRemoteAgain(t *testing.T) {
	tc := failedCloseCases[0] // CBRAIN: the name stays the file's
	dir, cacheDir, inj := tc.mount(t)
	path := filepath.Join(dir, "orig.txt")
	sh(t, dir, "echo orig > orig.txt")
	inj.Add(faults.Rule{Kind: faults.Status, Status: 400, Route: tc.route, Count: 1})
	sh(t, dir, "{ echo lost >> orig.txt; echo kept >> orig.txt; }")
	if got := string(refreshed(t, path)); got != "orig\nkept\n" {
		t.Errorf("orig.txt holds %q, want %q", got, "orig\nkept\n")
	}
	kept := filepath.Join(cacheDir, "recovery", "cbrain", "MainStore", "orig.txt")
	if got, err := os.ReadFile(kept); err != nil || string(got) != "orig\nlost\n" {
		t.Errorf("recovery copy: %q %v", got, err)
	}
}
