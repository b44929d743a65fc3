package cbrain

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/filesmount/filesmount/remote"
)

// referenceLegal is an independent reading of CBRAIN's
// Userfile.is_legal_filename?, the Ruby regexp
//
//	\A[a-zA-Z0-9][\w\~\!\@\#\%\^\(\)\-\+\=\:\[\]\{\}\,\.\?]*\z
//
// (Ruby's \w is [a-zA-Z0-9_]), byte by byte, plus the 255-byte column.
func referenceLegal(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if !alnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !alnum(c) && !strings.ContainsRune("_~!@#%^()-+=:[]{},.?", rune(c)) {
			return false
		}
	}
	return true
}

var nameSeeds = []string{
	"", "a", "A", "0", "scan.nii.gz", "sub-01_T1w.nii", "a~!@#%^()-+=:[]{},.?_", ".hidden", "..", ".", "_a", "-a",
	"~a", "a/b", "a\x00", "a\n", "a\nb", "a b", "é", "aé", "a\xff", "a\u00a0", "a\u200b", "aＡ", "a\\b", "a'b",
	"a\"b", "a`b", "a$b", "a&b", "a*b", "a|b", "a;b", "a<b>", "a/../b", "A" + strings.Repeat("b", 254),
	"A" + strings.Repeat("b", 255), strings.Repeat("9", 300), "a\r", "a\t", "\x00", "/", "//",
}

func FuzzCheckLegal(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	dir := remote.Entry{ID: "dp/7", Name: "MainStore", IsDir: true}
	s := NewStore(nil)
	f.Fuzz(func(t *testing.T, name string) {
		err := checkLegal(name)
		if want := referenceLegal(name); (err == nil) != want {
			t.Fatalf("checkLegal(%q) = %v; the reference regexp says legal=%v", name, err, want)
		}
		if err != nil {
			if !errors.Is(err, remote.ErrInvalid) {
				t.Fatalf("checkLegal(%q) = %v, which is not ErrInvalid (EINVAL)", name, err)
			}
		} else {
			switch {
			case strings.ContainsAny(name, "/\x00\\ \n"), name[0] == '.', name == "." || name == "..":
				t.Fatalf("checkLegal accepts %q", name)
			case !utf8.ValidString(name), len(name) > MaxNameLen:
				t.Fatalf("checkLegal accepts %q", name)
			}
		}
		// CheckName (what create and rename ask) agrees in a provider.
		if cerr := s.CheckName(dir, name); (cerr == nil) != (err == nil) {
			t.Fatalf("CheckName(%q) = %v, checkLegal = %v", name, cerr, err)
		}
	})
}

// FuzzTempName: the names filesmount gives userfiles during overwrites
// and replacing renames are legal whenever the original is, fit the
// column, and never equal the original.
func FuzzTempName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s, "key")
	}
	f.Add(strings.Repeat("a", 255), "")
	f.Fuzz(func(t *testing.T, name, key string) {
		for _, marker := range []string{newMarker, oldMarker} {
			tmp := tempName(name, marker, key)
			if tmp != tempName(name, marker, key) {
				t.Fatalf("tempName(%q) is not deterministic", name)
			}
			if tmp == name {
				t.Fatalf("tempName(%q) = the name itself", name)
			}
			if checkLegal(name) == nil {
				if err := checkLegal(tmp); err != nil {
					t.Fatalf("tempName(%q, %q) = %q is not legal: %v", name, marker, tmp, err)
				}
			}
		}
	})
}
