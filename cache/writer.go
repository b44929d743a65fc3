package cache

import (
	"context"

	"github.com/filesmount/filesmount/remote"
)

// writer forwards changes to the wrapped store and forgets the cached
// content of every object a change replaces, renames or removes, so no
// reader is served bytes the remote no longer has.
type writer struct {
	s *Store
	w remote.Writer
}

// Writer returns the wrapped store's remote.Writer, or nil if the store
// does not accept changes.
func (s *Store) Writer() remote.Writer {
	w, ok := s.inner.(remote.Writer)
	if !ok {
		return nil
	}
	return writer{s: s, w: w}
}

func (w writer) CheckName(dir remote.Entry, name string) error { return w.w.CheckName(dir, name) }

func (w writer) Upload(ctx context.Context, dir remote.Entry, name string, src remote.Source, old *remote.Entry) (remote.Entry, error) {
	e, err := w.w.Upload(ctx, dir, name, src, old)
	if old != nil {
		w.s.Forget(old.ID)
	}
	if err == nil {
		w.s.Forget(e.ID)
	}
	return e, err
}

func (w writer) Mkdir(ctx context.Context, dir remote.Entry, name string) (remote.Entry, error) {
	return w.w.Mkdir(ctx, dir, name)
}

func (w writer) Remove(ctx context.Context, dir, e remote.Entry) error {
	err := w.w.Remove(ctx, dir, e)
	w.s.Forget(e.ID)
	return err
}

func (w writer) Rmdir(ctx context.Context, dir, e remote.Entry) error {
	return w.w.Rmdir(ctx, dir, e)
}

func (w writer) Rename(ctx context.Context, dir, e, newDir remote.Entry, newName string, replaced *remote.Entry) (remote.Entry, error) {
	ne, err := w.w.Rename(ctx, dir, e, newDir, newName, replaced)
	if replaced != nil {
		w.s.Forget(replaced.ID)
	}
	return ne, err
}
