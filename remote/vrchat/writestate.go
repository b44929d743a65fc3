package vrchat

import (
	"context"
	"path"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"
)

// writes is the Store's write-side state. mu protects the maps only and is
// never held across a request.
type writes struct {
	mu sync.Mutex
	// exts remembers each listed File's extension (by File id), because
	// CheckName makes no request. Upload checks again against a fresh GET.
	exts map[string]string
	// created maps a new-File directory (Mkdir, "newfile/<name>") to the
	// File its first upload created, so that later uploads into the same
	// directory add versions to it instead of creating more Files.
	created map[string]string
	// firstExts maps a new-File directory to the extension of the first
	// file uploaded into it, from the start of that upload: it decides
	// the File's extension even if the upload fails after POST /file
	// landed, so what is accepted next does not depend on how far a
	// failed upload got.
	firstExts map[string]string
	// busy holds one channel per File with an upload or delete in
	// progress, closed when it ends. VRChat versions are a stack (only the
	// newest can be deleted, a new one is declared on top), so two changes
	// to one File at once would undo each other: they take turns. Waiting
	// honours the caller's context.
	busy map[string]chan struct{}
	// newFiles makes concurrent first uploads into one new-File directory
	// share a single find-or-create.
	newFiles singleflight.Group
}

func (w *writes) noteExt(f *File) {
	w.mu.Lock()
	if w.exts == nil {
		w.exts = map[string]string{}
	}
	w.exts[f.ID] = f.ext()
	w.mu.Unlock()
}

func (w *writes) knownExt(id string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.exts[id]
	return e, ok
}

func (w *writes) createdFile(dirName string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, ok := w.created[dirName]
	return id, ok
}

func (w *writes) setCreated(dirName, id string) {
	w.mu.Lock()
	if w.created == nil {
		w.created = map[string]string{}
	}
	w.created[dirName] = id
	w.mu.Unlock()
}

// forget drops what is known about a deleted File, including the
// extension its directory's first upload chose: a directory made again
// under that name stands for a File yet to be created.
func (w *writes) forget(id string) {
	w.mu.Lock()
	delete(w.exts, id)
	for name, fid := range w.created {
		if fid == id {
			delete(w.created, name)
			delete(w.firstExts, name)
		}
	}
	w.mu.Unlock()
}

// newDir starts a new-File directory afresh (Mkdir, or Rmdir of one that
// never got a File): an extension chosen by an earlier directory of that
// name, whose File was deleted meanwhile (perhaps outside the mount), no
// longer applies. While this client's File of that name still stands,
// the directory goes on standing for it, and so does its extension.
func (w *writes) newDir(dirName string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.created[dirName]; !ok {
		delete(w.firstExts, dirName)
	}
}

// acquire waits for the File's turn and returns the function that ends it.
func (w *writes) acquire(ctx context.Context, id string) (release func(), err error) {
	for {
		w.mu.Lock()
		ch, taken := w.busy[id]
		if !taken {
			if w.busy == nil {
				w.busy = map[string]chan struct{}{}
			}
			ch = make(chan struct{})
			w.busy[id] = ch
			w.mu.Unlock()
			return func() {
				w.mu.Lock()
				delete(w.busy, id)
				w.mu.Unlock()
				close(ch)
			}, nil
		}
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// mimeTypes maps extensions to the mimeType of a new File. VRChat's own
// mapping is VRCTools.GetMimeTypeFromExtension (reference §2.5), with
// image/jpeg rather than the SDK's non-standard image/jpg.
var mimeTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
	".vrca": "application/x-avatar", ".vrcw": "application/x-world", ".vrcp": "application/x-prop",
	".unitypackage": "application/gzip", ".gz": "application/gzip",
}

// mimeFor gives the mimeType for an extension; unknown ones are stored as
// application/octet-stream, which VRChat accepts.
func mimeFor(ext string) string {
	if m, ok := mimeTypes[strings.ToLower(ext)]; ok {
		return m
	}
	return "application/octet-stream"
}

// imageExts are what POST /file/image accepts (VRChat checks the bytes).
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true}

// extOf is the extension of a file name, with its dot ("" if none).
func extOf(name string) string {
	e := path.Ext(name)
	if e == "." || e == name {
		return ""
	}
	return e
}

// noteFirstExt records the extension of the first upload into a new-File
// directory (later ones do not change it).
func (w *writes) noteFirstExt(dirName, ext string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstExts == nil {
		w.firstExts = map[string]string{}
	}
	if _, ok := w.firstExts[dirName]; !ok {
		w.firstExts[dirName] = ext
	}
}

func (w *writes) firstExt(dirName string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ext, ok := w.firstExts[dirName]
	return ext, ok
}
