package cbrain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/filesmount/filesmount/remote"
)

// legalName is CBRAIN's Userfile.is_legal_filename? (userfile.rb). Ruby's
// \w is ASCII-only, and Go's RE2 \w is too.
var legalName = regexp.MustCompile(`\A[a-zA-Z0-9][\w~!@#%^()\-+=:\[\]{},.?]*\z`)

// MaxNameLen is the userfiles.name column width (varchar(255)), in bytes.
const MaxNameLen = 255

const legalRule = "CBRAIN names must start with an ASCII letter or digit and contain only " +
	"ASCII letters, digits and _ ~ ! @ # % ^ ( ) - + = : [ ] { } , . ? (no spaces, no other symbols, no accents)"

// checkLegal reports why name is not a legal userfile name, naming the
// first offending character so that the user knows what to change.
func checkLegal(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("cbrain: empty name: %w", remote.ErrInvalid)
	case len(name) > MaxNameLen:
		return fmt.Errorf("cbrain: name %q is %d bytes long; CBRAIN allows at most %d: %w",
			name, len(name), MaxNameLen, remote.ErrInvalid)
	case legalName.MatchString(name):
		return nil
	}
	for i, r := range name {
		if i == 0 && !(r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')) {
			return fmt.Errorf("cbrain: name %q starts with %q; %s: %w", name, r, legalRule, remote.ErrInvalid)
		}
		if i > 0 && !legalName.MatchString("a"+string(r)) {
			return fmt.Errorf("cbrain: name %q contains %q; %s: %w", name, r, legalRule, remote.ErrInvalid)
		}
	}
	return fmt.Errorf("cbrain: name %q is not allowed; %s: %w", name, legalRule, remote.ErrInvalid)
}

// providerOf returns the data provider id of a directory that files can
// be created in, or an error saying why dir is not one. Only a provider's
// top directory qualifies: the upload API cannot set browse_path, and a
// FileCollection's content is read-only through the API.
func providerOf(dir remote.Entry) (int64, error) {
	kind, rest, _ := strings.Cut(dir.ID, "/")
	switch {
	case dir.ID == "/":
		return 0, fmt.Errorf("cbrain: cannot create or move files at the top level: it lists data providers; "+
			"use a data provider's directory: %w", remote.ErrReadOnly)
	case kind == "dp":
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return 0, badID(dir.ID)
		}
		if dir.ReadOnly {
			return 0, fmt.Errorf("cbrain: data provider %q is read-only: %w", dir.Name, remote.ErrReadOnly)
		}
		return id, nil
	case kind == "bp":
		return 0, fmt.Errorf("cbrain: cannot create or move files into %q: it is a subdirectory of a MultiLevel "+
			"data provider, and the CBRAIN API cannot place files there (only at the provider's top level): %w",
			dir.Name, remote.ErrUnsupported)
	case kind == "uf" || kind == "cf":
		return 0, fmt.Errorf("cbrain: cannot change %q: it is (inside) a CBRAIN FileCollection, and collections "+
			"cannot be changed through the API: %w", dir.Name, remote.ErrReadOnly)
	}
	return 0, badID(dir.ID)
}

// CheckName implements remote.Writer. It makes no request.
func (s *Store) CheckName(dir remote.Entry, name string) error {
	if _, err := providerOf(dir); err != nil {
		return err
	}
	return checkLegal(name)
}

// UserfileID returns the CBRAIN userfile id behind e ("uf/<id>"); false
// for providers, browse-path directories and files inside collections.
func UserfileID(e remote.Entry) (int64, bool) {
	rest, ok := strings.CutPrefix(e.ID, "uf/")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && id > 0
}

// Marker infixes of the temporary names filesmount gives userfiles during
// an overwrite or a replacing rename. They are legal CBRAIN names, so the
// portal accepts them, and deterministic, so that a retry after a crash
// finds the earlier attempt's file instead of creating another one.
const (
	newMarker = ".filesmount-new-"
	oldMarker = ".filesmount-old-"
	mvMarker  = ".filesmount-mv-"
)

// tempName is name + marker + a short hash of key, shortened to fit
// MaxNameLen. It is legal whenever name is (the hash is hex).
func tempName(name, marker, key string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + key))
	suffix := marker + hex.EncodeToString(sum[:6])
	if len(name)+len(suffix) > MaxNameLen {
		name = name[:MaxNameLen-len(suffix)]
	}
	return name + suffix
}

// uploadTempName is where an overwrite stages the new content: derived
// from the name and the content, so a retry of the same overwrite finds it.
func uploadTempName(name string, sum []byte, size int64) string {
	return tempName(name, newMarker, fmt.Sprintf("%x/%d", sum, size))
}

// transitName is the name a file crosses to another provider under when
// its own name is taken there.
func transitName(name string, id int64) string {
	return tempName(name, mvMarker, strconv.FormatInt(id, 10))
}

// asideName is where a replacing rename parks the file being replaced.
func asideName(name string, id int64) string {
	return tempName(name, oldMarker, strconv.FormatInt(id, 10))
}

// fileType is the file_type sent with an upload: only types that exist in
// CBRAIN's base plugins. Anything else is left to the portal, which
// guesses from the extension itself (Userfile.suggested_file_type, which
// knows the plugins installed there) and falls back to SingleFile.
func fileType(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".txt"):
		return "TextFile"
	case strings.HasSuffix(l, ".json"):
		return "JsonFile"
	case strings.HasSuffix(l, ".csv"):
		return "CSVFile"
	}
	return ""
}
