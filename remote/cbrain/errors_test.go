package cbrain

import (
	"testing"
)

func TestDecodeErrorBody(t *testing.T) {
	cases := map[string]string{
		``: "",
		`{"error":"Provider not accessible by current user."}`:                          "Provider not accessible by current user.",
		`{"notice":"File 'x.txt' could not be added.\nName has already been taken.\n"}`: "File 'x.txt' could not be added.\nName has already been taken.",
		`"Collection 'x' already exists.\n"`:                                            "Collection 'x' already exists.",
		`{"name":["could not be changed on the storage provider."]}`:                    "name could not be changed on the storage provider.",
		`{"message":"Your files are being deleted in background."}`:                     "Your files are being deleted in background.",
		`<html><body>oops</body></html>`:                                                "(HTML page)",
		`{"status":404,"error":"Not Found"}`:                                            "Not Found",
	}
	for in, want := range cases {
		if got := decodeErrorBody([]byte(in)); got != want {
			t.Errorf("decodeErrorBody(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	start, total, ok := parseContentRange("bytes 100-199/1000")
	if !ok || start != 100 || total != 1000 {
		t.Errorf("got %d %d %v", start, total, ok)
	}
	if _, total, ok := parseContentRange("bytes 0-9/*"); !ok || total != -1 {
		t.Errorf("unknown total: %d %v", total, ok)
	}
	for _, bad := range []string{"", "bytes", "items 0-1/2", "bytes x-1/2"} {
		if _, _, ok := parseContentRange(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestIsCollectionType(t *testing.T) {
	for typ, want := range map[string]bool{"FileCollection": true, "DicomCollection": true, "CivetOutput": true,
		"SingleFile": false, "TextFile": false, "NiftiFile": false, "Collection": false} {
		if isCollectionType(typ) != want {
			t.Errorf("isCollectionType(%q) != %v", typ, want)
		}
	}
}
