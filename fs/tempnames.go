package fs

import "regexp"

// tempName matches the names programs give the temporary files they
// rename into place when they finish: rsync's ".name.XXXXXX", vim's swap
// files, "name~" backups, gedit's and emacs' temporaries. Such a file is
// kept locally even when the remote would refuse its name (CBRAIN names
// cannot start with a dot; a VRChat version must have the File's
// extension) and is uploaded under its final name when renamed. If it is
// never renamed, its data goes to the recovery folder at unmount.
var tempName = regexp.MustCompile(`^\..+\.[A-Za-z0-9]{6}$|^\..*\.sw[a-p]$|~$|^\.goutputstream-|^#.*#$|^\.#|^sed[A-Za-z0-9]{6}$`)

// sedTempName is GNU sed -i's temporary file (sed/execute.c: ck_mkstemp
// with the "sed" prefix, then rename over the input). It is kept local
// even where the remote accepts the name (CBRAIN): sed always renames it,
// and uploading it first would cost an upload, a remote rename and the
// delete of the replaced file, and leave it behind on the remote if the
// daemon stopped in between.
var sedTempName = regexp.MustCompile(`^sed[A-Za-z0-9]{6}$`)

func isTempName(name string) bool { return tempName.MatchString(name) }

// staysLocal reports a temporary name whose file is uploaded only when
// renamed, even where the remote would accept the name itself.
func staysLocal(name string) bool { return sedTempName.MatchString(name) }
