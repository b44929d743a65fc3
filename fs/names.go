package fs

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/filesmount/filesmount/remote"
)

// maxNameBytes is the longest name the kernel accepts in one path component.
const maxNameBytes = 255

// escapeName turns an untrusted remote name into a valid path component.
// Valid names are returned unchanged. An invalid one ("", ".", "..", or one
// containing '/', NUL or invalid UTF-8) is percent-encoded: '%' itself
// becomes "%25" so the encoding cannot be confused with a name that merely
// contains "%2F". Names longer than 255 bytes are shortened with a hash of
// the original so that they stay unique.
func escapeName(name string) string {
	out := name
	if needsEscape(name) {
		var b strings.Builder
		switch name {
		case "":
			b.WriteString("%")
		case ".":
			b.WriteString("%2E")
		case "..":
			b.WriteString("%2E%2E")
		default:
			for i := 0; i < len(name); {
				r, size := utf8.DecodeRuneInString(name[i:])
				switch {
				case r == utf8.RuneError && size <= 1:
					fmt.Fprintf(&b, "%%%02X", name[i])
				case r == '/' || r == 0 || r == '%':
					fmt.Fprintf(&b, "%%%02X", r)
				default:
					b.WriteString(name[i : i+size])
				}
				i += size
			}
		}
		out = b.String()
	}
	if len(out) > maxNameBytes {
		h := fnv.New64a()
		h.Write([]byte(name))
		suffix := fmt.Sprintf("~%016x", h.Sum64())
		cut := maxNameBytes - len(suffix)
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + suffix
	}
	return out
}

func needsEscape(name string) bool {
	return name == "" || name == "." || name == ".." ||
		strings.ContainsAny(name, "/\x00") || !utf8.ValidString(name)
}

// namedEntry is an entry with the unique, valid name it has in the mount.
type namedEntry struct {
	name  string
	entry remote.Entry
}

// uniqueNames gives every entry a distinct valid name. When several
// entries share a name (CBRAIN allows the same name for different owners
// on one provider), the one with the smallest ID keeps it and each other
// becomes "<stem>~<id><extension>", e.g. "scan~42.nii.gz", so every file
// stays visible under a name that is the same at every listing. A name
// that needed escaping yields to a remote name that did not. The result
// keeps the store's order (VRChat lists versions newest first).
func uniqueNames(entries []remote.Entry) []namedEntry {
	escaped := make([]string, len(entries))
	groups := map[string][]int{} // escaped name -> indexes into entries
	for i, e := range entries {
		escaped[i] = escapeName(e.Name)
		groups[escaped[i]] = append(groups[escaped[i]], i)
	}
	winner := make(map[int]bool, len(entries))
	taken := make(map[string]bool, len(entries))
	var losers []int
	for name, group := range groups {
		sort.Slice(group, func(a, b int) bool {
			ia, ib := group[a], group[b]
			ea, eb := entries[ia], entries[ib]
			// A name that is the remote's own beats an escaped one.
			if na, nb := needsEscape(ea.Name), needsEscape(eb.Name); na != nb {
				return nb
			}
			if ea.ID != eb.ID {
				return idLess(ea.ID, eb.ID)
			}
			// Equal IDs (a broken remote): keep the result deterministic.
			if ea.Name != eb.Name {
				return ea.Name < eb.Name
			}
			return ia < ib
		})
		winner[group[0]] = true
		taken[name] = true
		losers = append(losers, group[1:]...)
	}
	names := make([]string, len(entries))
	for i := range entries {
		if winner[i] {
			names[i] = escaped[i]
		}
	}
	// losers was filled in map order: sort it on everything that tells
	// entries apart, so that the names do not depend on that order.
	sort.Slice(losers, func(a, b int) bool {
		ia, ib := losers[a], losers[b]
		ea, eb := entries[ia], entries[ib]
		switch {
		case ea.ID != eb.ID:
			return idLess(ea.ID, eb.ID)
		case escaped[ia] != escaped[ib]:
			return escaped[ia] < escaped[ib]
		case ea.Name != eb.Name:
			return ea.Name < eb.Name
		}
		return ia < ib
	})
	for _, i := range losers {
		tag := escapeName(idTag(entries[i].ID))
		// escapeName shortens a candidate that the suffix made longer
		// than a path component may be (it is valid otherwise).
		candidate := escapeName(withSuffix(escaped[i], "~"+tag))
		for n := 2; taken[candidate]; n++ {
			candidate = escapeName(withSuffix(escaped[i], "~"+tag+"~"+strconv.Itoa(n)))
		}
		taken[candidate] = true
		names[i] = candidate
	}
	out := make([]namedEntry, len(entries))
	for i, e := range entries {
		out[i] = namedEntry{names[i], e}
	}
	return out
}

// idLess orders IDs numerically when they are decimal numbers of the same
// shape, e.g. "uf/9" before "uf/10".
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// idTag is the last component of an ID ("uf/42" -> "42").
func idTag(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 && i+1 < len(id) {
		return id[i+1:]
	}
	return id
}

// withSuffix inserts suffix before the extension, which starts at the first
// dot after the first character, so "a.nii.gz" keeps ".nii.gz".
func withSuffix(name, suffix string) string {
	if i := strings.IndexByte(name[min(1, len(name)):], '.'); i >= 0 {
		i++
		return name[:i] + suffix + name[i:]
	}
	return name + suffix
}
