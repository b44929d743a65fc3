// Package remotetest provides an in-memory remote.Store and remote.Writer
// for tests of the layers above the backends (cache, fs).
package remotetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// MemStore is a small remote with directories that honours Range and
// accepts every write. Failure knobs let tests exercise error paths.
type MemStore struct {
	name string

	mu      sync.Mutex // protects the fields below
	nextID  int
	objects map[string]*object // by ID; "/" is the root
	uploads int
	// failUpload, when set, is returned by the next Uploads.
	failUpload error
	// checkName, when set, decides CheckName.
	checkName func(name string) error
}

type object struct {
	entry    remote.Entry
	parent   string
	content  []byte
	children map[string]string // name -> ID
}

// NewMemStore returns an empty store mounted under name.
func NewMemStore(name string) *MemStore {
	m := &MemStore{name: name, objects: map[string]*object{}}
	m.objects["/"] = &object{entry: remote.Entry{ID: "/", Name: name, IsDir: true}, children: map[string]string{}}
	return m
}

var (
	_ remote.Store  = (*MemStore)(nil)
	_ remote.Writer = (*MemStore)(nil)
)

// FailUploads makes uploads fail with err (nil: succeed again).
func (m *MemStore) FailUploads(err error) {
	m.mu.Lock()
	m.failUpload = err
	m.mu.Unlock()
}

// SetCheckName replaces the name rule (default: any name).
func (m *MemStore) SetCheckName(f func(name string) error) {
	m.mu.Lock()
	m.checkName = f
	m.mu.Unlock()
}

// Uploads counts successful Upload calls.
func (m *MemStore) Uploads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.uploads
}

// Content returns the content at slash-separated path, if a file is there.
func (m *MemStore) Content(path string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.objects["/"]
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		id, ok := o.children[part]
		if !ok {
			return nil, false
		}
		o = m.objects[id]
	}
	if o.entry.IsDir {
		return nil, false
	}
	return bytes.Clone(o.content), true
}

// Put creates or replaces a file at slash-separated path (parents must exist).
func (m *MemStore) Put(path string, content []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, name := m.objects["/"], path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		for _, part := range strings.Split(path[:i], "/") {
			dir = m.objects[dir.children[part]]
		}
		name = path[i+1:]
	}
	m.putLocked(dir, name, content)
}

func (m *MemStore) putLocked(dir *object, name string, content []byte) remote.Entry {
	if id, ok := dir.children[name]; ok {
		o := m.objects[id]
		o.content = bytes.Clone(content)
		o.entry.Size = int64(len(content))
		o.entry.Version = strconv.Itoa(m.nextIDLocked())
		o.entry.ModTime = time.Now()
		return o.entry
	}
	id := "o" + strconv.Itoa(m.nextIDLocked())
	o := &object{entry: remote.Entry{ID: id, Name: name, Size: int64(len(content)), Version: "1", ModTime: time.Now()},
		parent: dir.entry.ID, content: bytes.Clone(content)}
	m.objects[id] = o
	dir.children[name] = id
	return o.entry
}

func (m *MemStore) nextIDLocked() int {
	m.nextID++
	return m.nextID
}

func (m *MemStore) Name() string                               { return m.name }
func (m *MemStore) Caps() remote.Caps                          { return remote.Caps{RangeReads: true} }
func (m *MemStore) Root(context.Context) (remote.Entry, error) { return m.objects["/"].entry, nil }

func (m *MemStore) List(ctx context.Context, dir remote.Entry) ([]remote.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[dir.ID]
	if !ok || !o.entry.IsDir {
		return nil, fmt.Errorf("memstore: %s: %w", dir.ID, remote.ErrNotFound)
	}
	var out []remote.Entry
	for _, id := range o.children {
		out = append(out, m.objects[id].entry)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *MemStore) Stat(ctx context.Context, e remote.Entry) (remote.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[e.ID]
	if !ok {
		return remote.Entry{}, fmt.Errorf("memstore: %s: %w", e.ID, remote.ErrNotFound)
	}
	return o.entry, nil
}

func (m *MemStore) Open(ctx context.Context, e remote.Entry, off, length int64) (*remote.Body, error) {
	m.mu.Lock()
	o, ok := m.objects[e.ID]
	var content []byte
	if ok {
		content = o.content
	}
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("memstore: %s: %w", e.ID, remote.ErrNotFound)
	}
	end := int64(len(content))
	if length >= 0 && off+length < end {
		end = off + length
	}
	if off > end {
		off = end
	}
	return &remote.Body{ReadCloser: io.NopCloser(bytes.NewReader(content[off:end])), Offset: off, Ranged: true, Size: int64(len(content))}, nil
}

func (m *MemStore) CheckName(dir remote.Entry, name string) error {
	m.mu.Lock()
	check := m.checkName
	m.mu.Unlock()
	if check != nil {
		return check(name)
	}
	return nil
}

func (m *MemStore) Upload(ctx context.Context, dir remote.Entry, name string, src remote.Source, old *remote.Entry) (remote.Entry, error) {
	data := make([]byte, src.Size)
	if _, err := src.ReadAt(data, 0); err != nil && err != io.EOF {
		return remote.Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failUpload != nil {
		return remote.Entry{}, m.failUpload
	}
	d, ok := m.objects[dir.ID]
	if !ok || !d.entry.IsDir {
		return remote.Entry{}, fmt.Errorf("memstore: upload into %s: %w", dir.ID, remote.ErrNotFound)
	}
	m.uploads++
	return m.putLocked(d, name, data), nil
}

func (m *MemStore) Mkdir(ctx context.Context, dir remote.Entry, name string) (remote.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.objects[dir.ID]
	if !ok {
		return remote.Entry{}, fmt.Errorf("memstore: mkdir in %s: %w", dir.ID, remote.ErrNotFound)
	}
	if _, taken := d.children[name]; taken {
		return remote.Entry{}, fmt.Errorf("memstore: %s: %w", name, remote.ErrExist)
	}
	id := "d" + strconv.Itoa(m.nextIDLocked())
	o := &object{entry: remote.Entry{ID: id, Name: name, IsDir: true, ModTime: time.Now()}, parent: dir.ID, children: map[string]string{}}
	m.objects[id] = o
	d.children[name] = id
	return o.entry, nil
}

func (m *MemStore) Remove(ctx context.Context, dir, e remote.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.removeLocked(e, false)
}

func (m *MemStore) Rmdir(ctx context.Context, dir, e remote.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.removeLocked(e, true)
}

func (m *MemStore) removeLocked(e remote.Entry, isDir bool) error {
	o, ok := m.objects[e.ID]
	if !ok {
		return fmt.Errorf("memstore: %s: %w", e.Name, remote.ErrNotFound)
	}
	if isDir && len(o.children) > 0 {
		return fmt.Errorf("memstore: %s is not empty: %w", e.Name, remote.ErrConflict)
	}
	delete(m.objects[o.parent].children, o.entry.Name)
	delete(m.objects, e.ID)
	return nil
}

func (m *MemStore) Rename(ctx context.Context, dir, e, newDir remote.Entry, newName string, replaced *remote.Entry) (remote.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[e.ID]
	nd, ok2 := m.objects[newDir.ID]
	if !ok || !ok2 {
		return remote.Entry{}, fmt.Errorf("memstore: rename %s: %w", e.Name, remote.ErrNotFound)
	}
	if id, taken := nd.children[newName]; taken {
		if err := m.removeLocked(m.objects[id].entry, m.objects[id].entry.IsDir); err != nil {
			return remote.Entry{}, err
		}
	}
	delete(m.objects[o.parent].children, o.entry.Name)
	o.entry.Name, o.parent = newName, newDir.ID
	nd.children[newName] = e.ID
	return o.entry, nil
}
