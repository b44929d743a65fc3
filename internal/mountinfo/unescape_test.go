package mountinfo

import "testing"

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"/mnt/plain":         "/mnt/plain",
		`/mnt/my\040files`:   "/mnt/my files",
		`/mnt/tab\011nl\012`: "/mnt/tab\tnl\n",
		`/mnt/back\134slash`: `/mnt/back\slash`,
		`/mnt/cut\04`:        `/mnt/cut\04`, // too short to be an escape
		`/mnt/not\9xx`:       `/mnt/not\9xx`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
