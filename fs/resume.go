package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ResumeUploads handles what the journal says a previous daemon left
// unfinished: an upload that had started (the file was closed or fsynced)
// is run again — the Writer recognises an attempt that already landed —
// and data of a file that was still open for writing is handed back in
// the recovery folder, since nobody can tell whether it was complete.
// Every outcome is logged. It returns the number of records handled.
func (r *Root) ResumeUploads(ctx context.Context) int {
	if r.fsys.opts.ReadOnly {
		return 0
	}
	recs, err := r.fsys.dirs.records()
	if err != nil {
		r.fsys.opts.Logger.Printf("journal: %v", err)
		return 0
	}
	log := r.fsys.opts.Logger
	for _, rec := range recs {
		data, err := r.fsys.dirs.recordData(rec)
		if err != nil {
			log.Printf("journal: ignoring a damaged record: %v", err)
			continue
		}
		rec.Data = data
		if _, err := os.Stat(rec.Data); err != nil {
			log.Printf("journal: %s: its staged data is gone (%v); dropping the record", rec.Path, err)
			r.fsys.dirs.removeRecord(rec.ID)
			continue
		}
		b, ok := r.backend(rec.Store)
		if rec.State != stateUploading && isEmptyFile(rec.Data) {
			log.Printf("journal: %s was empty and never uploaded; nothing to keep", rec.Path)
			os.Remove(rec.Data)
			r.fsys.dirs.removeRecord(rec.ID)
			continue
		}
		if !ok || rec.State != stateUploading {
			kept, err := r.fsys.handBack(rec.Data, rec.Path, true)
			if err != nil {
				log.Printf("journal: %s: %v; its data stays in %s", rec.Path, err, rec.Data)
				continue
			}
			why := "it was still open for writing when the daemon stopped"
			if !ok {
				why = "remote " + rec.Store + " is not mounted"
			}
			log.Printf("journal: %s was not uploaded (%s); its data is kept in %s", rec.Path, why, kept)
			os.Remove(rec.Data)
			r.fsys.dirs.removeRecord(rec.ID)
			continue
		}
		st := &staged{path: rec.Data, id: rec.ID, dirty: true}
		st.record = &rec
		log.Printf("journal: resuming the upload of %s", rec.Path)
		if _, _, err := r.fsys.upload(ctx, b, rec.Dir, rec.Path, rec.Name, st, rec.Old); err != nil {
			log.Printf("journal: upload of %s failed: %v", rec.Path, err)
			os.Remove(rec.Data)
			continue
		}
		log.Printf("journal: %s uploaded", rec.Path)
		os.Remove(rec.Data)
	}
	return len(recs)
}

func (r *Root) backend(store string) (Backend, bool) {
	for _, b := range r.backends {
		if b.Store.Name() == store {
			return b, true
		}
	}
	return Backend{}, false
}

// HandBackLocal moves the data of files that were never uploaded (programs'
// temporary files that were not renamed) to the recovery folder, logging
// each. Call it after unmounting.
func (r *Root) HandBackLocal() {
	if r.fsys.opts.ReadOnly {
		return
	}
	recs, _ := r.fsys.dirs.records()
	for _, rec := range recs {
		if rec.State != stateWriting {
			continue
		}
		data, err := r.fsys.dirs.recordData(rec)
		if err != nil {
			r.fsys.opts.Logger.Printf("journal: ignoring a damaged record: %v", err)
			continue
		}
		rec.Data = data
		if _, err := os.Stat(rec.Data); err != nil {
			r.fsys.dirs.removeRecord(rec.ID)
			continue
		}
		if isEmptyFile(rec.Data) {
			r.fsys.opts.Logger.Printf("%s was empty and never uploaded; nothing to keep", rec.Path)
			os.Remove(rec.Data)
			r.fsys.dirs.removeRecord(rec.ID)
			continue
		}
		kept, err := r.fsys.handBack(rec.Data, rec.Path, true)
		if err != nil {
			r.fsys.opts.Logger.Printf("%s was never uploaded; its data stays in %s (%v)", rec.Path, rec.Data, err)
			continue
		}
		r.fsys.opts.Logger.Printf("%s was never uploaded (not renamed to a name the remote accepts); its data is kept in %s", rec.Path, kept)
		os.Remove(rec.Data)
		r.fsys.dirs.removeRecord(rec.ID)
	}
}

// recordData returns where the staged data of a journal record is: the
// file its id names in the staging folder (see newStaged). The record's
// own data path is not trusted, so that a damaged or planted record can
// make the daemon read, hand back or delete nothing outside that folder;
// nor is an id that is not a plain file name (removeRecord joins it with
// the journal folder).
func (d stagingDirs) recordData(rec journalRecord) (string, error) {
	if rec.ID == "" || rec.ID == "." || rec.ID == ".." || strings.ContainsAny(rec.ID, "/\\\x00") || len(rec.ID) > 200 {
		return "", fmt.Errorf("record id %q is not a staged file's name", rec.ID)
	}
	return filepath.Join(d.staging, rec.ID+".data"), nil
}

// isEmptyFile: an empty staged file holds nothing to hand back.
func isEmptyFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() == 0
}
