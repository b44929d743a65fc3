//go:build linux

package e2e

import (
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// TestModelCBRAINCollection runs the CBRAIN model's sequences with a
// read-only FileCollection beside them, on a provider the portal syncs
// only on request, whose member names hold & < > " ' (the portal escapes
// its listing as JSON, then as HTML). Every step's check lists and reads
// the collection too. Cheap: 40 steps per seed.
func TestModelCBRAINCollection(t *testing.T) {
	modelTest(t, &modelSetup{remote: "CBRAIN", test: "TestModelCBRAINCollection", newModel: newCBCollModel, steps: 40,
		start: func(t *testing.T, inj *faults.Injector) (*modelSession, error) {
			return startCBRAINModelWith(t, inj, "", func(srv *cbraintest.Server, user int) { seedOddCollection(srv, user) })
		}}, 7)
}

// cbCollDir is seedOddCollection's collection in the mount.
const cbCollDir = "cbrain/FarDP/Odd"

// cbCollModel is the CBRAIN model plus the collection, which only reads.
type cbCollModel struct {
	*cbModel
}

func newCBCollModel() mModel { return &cbCollModel{cbModel: newCBModel().(*cbModel)} }

func (m *cbCollModel) clone() mModel { return &cbCollModel{cbModel: m.cbModel.copy()} }

func (m *cbCollModel) roots() []string {
	return append(append([]string(nil), cbDirs...), path.Dir(cbCollDir))
}

// collMembers are the collection's member paths in the mount, sorted.
func collMembers() []string {
	var out []string
	for name := range oddMembers {
		out = append(out, path.Join(cbCollDir, name))
	}
	sort.Strings(out)
	return out
}

func withCollection(v map[string]mEntry) map[string]mEntry {
	for _, p := range collMembers() {
		v[p] = mEntry{data: []byte(oddMembers[strings.TrimPrefix(p, cbCollDir+"/")])}
		for d := path.Dir(p); d != path.Dir(cbCollDir); d = path.Dir(d) {
			v[d] = mEntry{dir: true}
		}
	}
	return v
}

func (m *cbCollModel) view() map[string]mEntry       { return withCollection(m.cbModel.view()) }
func (m *cbCollModel) remoteView() map[string]mEntry { return withCollection(m.cbModel.remoteView()) }

func (m *cbCollModel) apply(a *mAction) mOutcome {
	if !strings.HasPrefix(a.Path, cbCollDir+"/") {
		return m.cbModel.apply(a)
	}
	data := []byte(oddMembers[strings.TrimPrefix(a.Path, cbCollDir+"/")])
	if a.Kind == "readat" {
		return mOutcome{read: true, data: readRange(data, a.Off, a.Size)}
	}
	return mOutcome{read: true, data: data}
}

// gen: now and then a read of a member (through cat or a Go read), else
// the CBRAIN model's own step.
func (m *cbCollModel) gen(g *mGen) mStep {
	if !g.chance(0.2) {
		return m.cbModel.gen(g)
	}
	p := filepath.ToSlash(g.pick(collMembers()))
	if g.coin() {
		return mStep{{Kind: "cat", Proc: g.coin(), Path: p}}
	}
	n := len(oddMembers[strings.TrimPrefix(p, cbCollDir+"/")])
	return mStep{{Kind: "readat", Path: p, Off: int64(g.intn(n + 2)), Size: int64(g.between(1, 8))}}
}
