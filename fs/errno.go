package fs

import (
	"context"
	"errors"
	"io"
	"log"
	"syscall"

	"github.com/filesmount/filesmount/remote"
)

// toErrno maps an error from a store or the cache to an errno, and logs one
// line naming the operation, the path and the cause. It is the only place
// where remote errors become errno values.
func toErrno(logger *log.Logger, op, path string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	errno := errnoFor(err)
	if errno == syscall.EINTR {
		return errno // the caller gave up; nothing went wrong remotely
	}
	if errno != syscall.ENOENT && logger != nil {
		logger.Printf("%s %s: %v (%s)", op, path, err, errnoName(errno))
	}
	return errno
}

func errnoFor(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case errors.Is(err, remote.ErrUnavailable) && !errors.Is(err, remote.ErrTimeout):
		// Before the errno case: a broken connection carries the
		// transport's errno (ECONNRESET), which means nothing to the
		// program that read or wrote a file.
		return syscall.EIO
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, remote.ErrTimeout):
		return syscall.ETIMEDOUT
	case errors.Is(err, remote.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, remote.ErrNotPermitted):
		return syscall.EPERM
	case errors.Is(err, remote.ErrPermission), errors.Is(err, remote.ErrAuth):
		return syscall.EACCES
	case errors.Is(err, remote.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, remote.ErrConflict):
		return syscall.EBUSY
	case errors.Is(err, remote.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, remote.ErrReadOnly):
		return syscall.EROFS
	case errors.Is(err, remote.ErrUnsupported):
		return syscall.ENOTSUP
	case errors.Is(err, remote.ErrTooLarge):
		return syscall.EFBIG
	case errors.Is(err, remote.ErrQuota):
		return syscall.EDQUOT
	case errors.Is(err, remote.ErrNotReady):
		return syscall.EAGAIN
	case errors.Is(err, remote.ErrUnavailable):
		return syscall.EIO
	case errors.Is(err, remote.ErrCorrupt), errors.Is(err, io.ErrUnexpectedEOF):
		return syscall.EIO
	}
	return syscall.EIO
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EACCES:
		return "EACCES"
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.EBUSY:
		return "EBUSY"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.EROFS:
		return "EROFS"
	case syscall.ENOTSUP:
		return "ENOTSUP"
	case syscall.EFBIG:
		return "EFBIG"
	case syscall.EDQUOT:
		return "EDQUOT"
	case syscall.ETIMEDOUT:
		return "ETIMEDOUT"
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.EPERM:
		return "EPERM"
	case syscall.ENOTEMPTY:
		return "ENOTEMPTY"
	case syscall.EXDEV:
		return "EXDEV"
	}
	return "EIO"
}
