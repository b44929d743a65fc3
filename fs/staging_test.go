package fs

import (
	"bytes"
	"crypto/md5"
	"os"
	"testing"
)

// TestStagedMD5 checks the upload digest whichever way the content was
// written: in order (hashed on the fly), out of order, truncated, or
// rewritten from the start.
func TestStagedMD5(t *testing.T) {
	dirs, err := newStagingDirs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(st *staged) []byte{
		"sequential": func(st *staged) []byte {
			st.writeAt([]byte("hello "), 0)
			st.writeAt([]byte("world"), 6)
			return []byte("hello world")
		},
		"out of order": func(st *staged) []byte {
			st.writeAt([]byte("world"), 6)
			st.writeAt([]byte("hello "), 0)
			return []byte("hello world")
		},
		"overwrite in the middle": func(st *staged) []byte {
			st.writeAt([]byte("hello world"), 0)
			st.writeAt([]byte("W"), 6)
			return []byte("hello World")
		},
		"truncate shorter": func(st *staged) []byte {
			st.writeAt([]byte("hello world"), 0)
			st.truncate(5)
			return []byte("hello")
		},
		"truncate to zero then write": func(st *staged) []byte {
			st.writeAt([]byte("old content"), 0)
			st.truncate(0)
			st.writeAt([]byte("new"), 0)
			return []byte("new")
		},
		// More than the hasher reads at a time, so that it is still
		// catching up while later writes arrive.
		"sequential, many chunks": func(st *staged) []byte {
			var all []byte
			for i := range 50 {
				p := bytes.Repeat([]byte{byte(i)}, 64<<10+i)
				st.writeAt(p, int64(len(all)))
				all = append(all, p...)
			}
			return all
		},
		"truncated to zero while hashing, then rewritten": func(st *staged) []byte {
			st.writeAt(bytes.Repeat([]byte("x"), 3<<20), 0)
			st.truncate(0)
			st.writeAt([]byte("fresh"), 0)
			return []byte("fresh")
		},
		"copied, then appended": func(st *staged) []byte {
			st.file.WriteAt([]byte("remote "), 0)
			st.forgetSequence()
			st.writeAt([]byte("local"), 7)
			return []byte("remote local")
		},
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			st, err := dirs.newStaged()
			if err != nil {
				t.Fatal(err)
			}
			defer os.Remove(st.path)
			want := write(st)
			f, size, digest, err := st.snapshot()
			if err != nil {
				t.Fatal(err)
			}
			sum, err := digest()
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := md5.Sum(want); size != int64(len(want)) || string(sum) != string(got[:]) {
				t.Errorf("size %d, md5 %x; want %d, %x", size, sum, len(want), got)
			}
		})
	}
}
