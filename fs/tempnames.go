package fs

import (
	"regexp"
	"strings"
)

// tempName matches the names programs give the temporary files they
// rename into place when they finish: rsync's ".name.XXXXXX", vim's swap
// files, "name~" backups, gedit's and emacs' temporaries. Such a file is
// kept locally even when the remote would refuse its name (CBRAIN names
// cannot start with a dot; a VRChat version must have the File's
// extension) and is uploaded under its final name when renamed. If it is
// never renamed, its data goes to the recovery folder at unmount.
var tempName = regexp.MustCompile(`^\..+\.[A-Za-z0-9]{6}$|^\..*\.sw[a-p]$|~$|^\.goutputstream-|^#.*#$|^\.#|^sed[A-Za-z0-9]{6}$`)

func isTempName(name string) bool { return tempName.MatchString(name) }

// staysLocal reports a temporary name whose file is uploaded only when
// renamed, even where the remote would accept the name itself: every
// pattern above but the backup "name~", which editors leave behind on
// purpose. GNU sed -i's "sedXXXXXX" (sed/execute.c: ck_mkstemp with the
// "sed" prefix, then a rename over the input) is always renamed, and
// uploading it first would cost an upload, a remote rename and the delete
// of the replaced file, and leave it on the remote if the daemon stopped
// in between. In a VRChat directory made with mkdir, whose first file
// decides the File's extension, rsync's ".name.XXXXXX" would otherwise
// create a File of extension ".XXXXXX".
func staysLocal(name string) bool {
	return isTempName(name) && !strings.HasSuffix(name, "~")
}
