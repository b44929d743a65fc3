package fs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// Journal states of a staged file.
const (
	// stateWriting: open for writing; the content may be incomplete.
	stateWriting = "writing"
	// stateUploading: closed or fsynced; the upload of this content must
	// complete, even across a crash.
	stateUploading = "uploading"
)

// journalRecord is what survives a crash about one staged file: enough to
// finish its upload at the next start, or to hand the data back.
type journalRecord struct {
	ID    string        `json:"id"`    // the staged file's id
	Data  string        `json:"data"`  // path of the staged data
	Store string        `json:"store"` // remote.Store name
	Dir   remote.Entry  `json:"dir"`   // the directory it is written into
	Path  string        `json:"path"`  // mount-relative path, for messages
	Name  string        `json:"name"`
	Old   *remote.Entry `json:"old,omitempty"` // the object it replaces
	State string        `json:"state"`
	Time  time.Time     `json:"time"`
}

// write replaces the record atomically and durably: it must be on disk
// before the upload it announces starts.
func (d stagingDirs) writeRecord(r journalRecord) error {
	r.Time = time.Now().UTC()
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.journal, "."+r.ID+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(d.journal, r.ID+".json")); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return syncDir(d.journal)
}

// putRecord writes r as the journal record of st.
func (d stagingDirs) putRecord(st *staged, r journalRecord) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := d.writeRecord(r); err != nil {
		return err
	}
	st.record = &r
	return nil
}

// dropRecord deletes st's journal record: nothing is left to recover.
func (d stagingDirs) dropRecord(st *staged) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.record = nil
	d.removeRecord(st.id)
}

// renameRecord rewrites st's record, if it has one, for the name the file
// has now. A copy that was uploaded or dropped has no record to rewrite.
func (d stagingDirs) renameRecord(st *staged, dir remote.Entry, path, name string, old *remote.Entry) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.record == nil || st.removed {
		return nil
	}
	r := *st.record
	r.Dir, r.Path, r.Name, r.Old = dir, path, name, old
	if err := d.writeRecord(r); err != nil {
		return err
	}
	st.record = &r
	return nil
}

func (d stagingDirs) removeRecord(id string) {
	os.Remove(filepath.Join(d.journal, id+".json"))
	syncDir(d.journal)
}

// records lists the journal, oldest first.
func (d stagingDirs) records() ([]journalRecord, error) {
	names, err := os.ReadDir(d.journal)
	if err != nil {
		return nil, err
	}
	var out []journalRecord
	for _, n := range names {
		if !strings.HasSuffix(n.Name(), ".json") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(d.journal, n.Name()))
		if err != nil {
			continue
		}
		var r journalRecord
		if json.Unmarshal(raw, &r) == nil && r.ID != "" {
			out = append(out, r)
		}
	}
	return out, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
