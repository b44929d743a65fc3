package fs

import (
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
			f, size, sum, err := st.snapshot()
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := md5.Sum(want); size != int64(len(want)) || string(sum) != string(got[:]) {
				t.Errorf("size %d, md5 %x; want %d, %x", size, sum, len(want), got)
			}
		})
	}
}
