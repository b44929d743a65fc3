//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// oddMembers are collection members whose names the portal escapes twice
// (JSON, then HTML), with the mtimes they are given.
var oddMembers = map[string]string{
	"a&b.txt":         "ampersand\n",
	"<lt>&gt;.txt":    "angles\n",
	`q"uote.txt`:      "double quote\n",
	"it's.txt":        "apostrophe\n",
	"sub/deeper.txt":  "in a subdirectory\n",
	"sub/&amp;.x.txt": "an entity in a name\n",
}

var oddMemberTime = time.Date(2024, 3, 9, 17, 4, 5, 678_000_000, time.UTC)

// seedOddCollection adds provider "FarDP" (remote: served after a sync)
// with the collection "Odd" of oddMembers. It returns the ids.
func seedOddCollection(srv *cbraintest.Server, user int) (dp, coll int) {
	dp = srv.AddProvider("FarDP", user, cbraintest.ProviderOptions{Remote: true, Type: "SshDataProvider"})
	members := map[string][]byte{}
	for name, content := range oddMembers {
		members[name] = []byte(content)
	}
	coll = srv.AddFile(cbraintest.FileSpec{Name: "Odd", ProviderID: dp, OwnerID: user, Type: "FileCollection", Members: members})
	for name := range oddMembers {
		srv.SetMemberTime(coll, name, oddMemberTime)
	}
	return dp, coll
}

// TestUnsyncedCollectionInMount: a collection the portal has not synced
// lists (ls -l), shows its members' own mtimes (stat) and reads (cat) on
// every play of the display action, and the portal files no report; the
// demo's collections list too.
func TestUnsyncedCollectionInMount(t *testing.T) {
	for _, v := range cbraintest.DisplayVariants {
		t.Run(v.Name, func(t *testing.T) {
			env := mountCBRAIN(t, envOptions{display: v.Opts, seed: func(t *testing.T, srv *cbraintest.Server, user int) {
				seedOddCollection(srv, user)
			}})
			dir := filepath.Join(env.mnt, "cbrain", "FarDP", "Odd")
			out := run(t, "ls", "-l", dir)
			for _, name := range []string{"a&b.txt", "<lt>&gt;.txt", `q"uote.txt`, "it's.txt", "sub"} {
				if !strings.Contains(out, name) {
					t.Errorf("ls -l %s lacks %s:\n%s", dir, name, out)
				}
			}
			if !strings.HasPrefix(lineWith(out, " sub"), "d") {
				t.Errorf("sub is not a directory: %q", lineWith(out, " sub"))
			}
			want := oddMemberTime.Format("2006-01-02 15:04:05.000000000")
			for name, content := range oddMembers {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if got := statField(t, "%.9Y", p); got != "1710003845.678000000" {
					t.Errorf("stat %s: mtime %s, want %s (the portal's, to the millisecond)", name, got, want)
				}
				if got := run(t, "cat", p); got != content {
					t.Errorf("cat %s: %q, want %q", name, got, content)
				}
			}
			demo := run(t, "ls", "-l", filepath.Join(env.mnt, "cbrain", "ArchiveSSH", "old_study"))
			if !strings.Contains(demo, "README") || !strings.Contains(demo, "data") {
				t.Errorf("the demo's unsynced collection:\n%s", demo)
			}
			anat := run(t, "ls", filepath.Join(env.mnt, "cbrain", "MainStore", "sub-01_anat"))
			if strings.Join(strings.Fields(anat), " ") != "anat dataset_description.json participants.tsv" {
				t.Errorf("the demo's local collection: %q", anat)
			}
			if st := env.srv.Stats(); st.ErrorMessages != 0 || st.ExceptionLogs != 0 {
				t.Errorf("the portal filed %d error messages and %d exception logs, want none", st.ErrorMessages, st.ExceptionLogs)
			}
		})
	}
}

// TestUnlistableCollectionInMount: a collection whose provider went
// offline fails to list with EIO and one log line per ls, and later ls
// within the metadata TTL ask the portal nothing.
func TestUnlistableCollectionInMount(t *testing.T) {
	var dp int
	env := mountCBRAIN(t, envOptions{seed: func(t *testing.T, srv *cbraintest.Server, user int) {
		dp, _ = seedOddCollection(srv, user)
	}})
	parent := filepath.Join(env.mnt, "cbrain", "FarDP")
	run(t, "ls", parent)
	env.srv.SetProviderOnline(dp, false)
	dir := filepath.Join(parent, "Odd")
	lines := func() []string {
		var out []string
		for _, l := range strings.Split(env.logs.String(), "\n") {
			if strings.Contains(l, "FarDP/Odd") {
				out = append(out, l)
			}
		}
		return out
	}
	out, err := command("ls", dir)
	if err == nil || !strings.Contains(out, "Input/output error") {
		t.Fatalf("ls of a collection that cannot be synced: %v\n%s", err, out)
	}
	if l := lines(); len(l) != 1 || !strings.Contains(l[0], "offline") || !strings.Contains(l[0], "(EIO)") {
		t.Fatalf("log after one ls: %q, want one line saying the provider is offline", l)
	}
	before := env.srv.Stats()
	for i := 2; i <= 4; i++ {
		out, err := command("ls", dir)
		if err == nil || !strings.Contains(out, "Input/output error") {
			t.Fatalf("ls %d: %v\n%s", i, err, out)
		}
		if l := lines(); len(l) != i || !strings.Contains(l[i-1], "kept") {
			t.Fatalf("log after %d ls: %q, want one line per ls, saying the failure is kept", i, l)
		}
	}
	t.Logf("daemon log:\n%s", strings.Join(lines(), "\n"))
	if after := env.srv.Stats(); after.Requests != before.Requests {
		t.Errorf("3 more ls made %d requests to the portal, want 0: %v", after.Requests-before.Requests, after.ByRoute)
	}
	if st := env.srv.Stats(); st.ErrorMessages != 0 {
		t.Errorf("the portal filed %d error messages", st.ErrorMessages)
	}
	if _, err := os.Stat(filepath.Join(dir, "a&b.txt")); err == nil {
		t.Errorf("a member of the unlistable collection stats")
	}
}
