package fs

import "regexp"

// tempName matches the names programs give the temporary files they
// rename into place when they finish: rsync's ".name.XXXXXX", vim's swap
// files, "name~" backups, gedit's and emacs' temporaries. Such a file is
// kept locally even when the remote would refuse its name (CBRAIN names
// cannot start with a dot; a VRChat version must have the File's
// extension) and is uploaded under its final name when renamed. If it is
// never renamed, its data goes to the recovery folder at unmount. GNU
// sed -i writes "sedXXXXXX" beside the file (sed/execute.c, ck_mkstemp
// with the "sed" prefix); where the remote accepts that name (CBRAIN) it
// is uploaded at close and renamed by the remote.
var tempName = regexp.MustCompile(`^\..+\.[A-Za-z0-9]{6}$|^\..*\.sw[a-p]$|~$|^\.goutputstream-|^#.*#$|^\.#|^sed[A-Za-z0-9]{6}$`)

func isTempName(name string) bool { return tempName.MatchString(name) }
