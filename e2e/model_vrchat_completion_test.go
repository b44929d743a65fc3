//go:build linux

package e2e

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// TestModelVRChatUnrecordedCompletion runs the VRChat model against each
// plausible answer VRChat may give after an upload's finish, none of which
// was ever recorded: the version "complete" at once, "queued" for a few
// polls, or left "waiting" while its entries are complete; entries that
// are "queued" for a poll; and "queued", the spec's default category, on
// every entry (uploaded in parts). Whatever the answer, the mount must
// behave as the model says. Fewer steps and seeds than TestModelVRChat:
// the operations are the same, only the server's answers differ.
func TestModelVRChatUnrecordedCompletion(t *testing.T) {
	requireFUSE(t)
	variants := []struct {
		name string
		o    vrchattest.Options
		seed int64
	}{
		{"complete", vrchattest.Options{VersionStatusAfterFinish: vrchattest.VersionComplete}, 11},
		{"queued", vrchattest.Options{VersionStatusAfterFinish: vrchattest.VersionQueued, QueuedPolls: 2, EntryQueuedPolls: 1}, 12},
		{"waiting", vrchattest.Options{VersionStatusAfterFinish: vrchattest.VersionWaiting, QueuedPolls: 2, EntryQueuedPolls: 1}, 13},
		// A threshold of 16 bytes puts nearly every entry (signatures
		// included) in the "queued" category, so they go in parts.
		{"category-queued", vrchattest.Options{LargeCategory: vrchattest.CategoryQueued, MultipartThreshold: 16}, 14},
	}
	steps := min(modelSteps(), 60)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := &modelSetup{remote: "VRChat (" + v.name + ")", test: "TestModelVRChatUnrecordedCompletion/" + v.name,
				newModel: newVRModel,
				start: func(t *testing.T, inj *faults.Injector) (*modelSession, error) {
					return startVRChatModelWith(t, v.o, inj)
				}}
			seed := v.seed
			if env := os.Getenv("FILESMOUNT_MODEL_SEED"); env != "" {
				if n, err := strconv.ParseInt(env, 10, 64); err == nil {
					seed = n
				}
			}
			start := time.Now()
			info := &modelInfo{}
			f := modelRun(t, s, seed, steps, modelOpts{gapRate: -1, info: info})
			if f == nil {
				t.Logf("%s model: seed %d: %d steps (%d actions) and the remount agree with the model (%v)",
					s.remote, seed, steps, info.actions, time.Since(start).Round(time.Millisecond))
				return
			}
			short := modelShrink(t, s, f, modelOpts{gapRate: -1})
			recordFinding(s, short, "")
			t.Errorf("%s\nlast daemon log lines:\n%s", short.report(s), lastLines(short.logs, 25))
		})
	}
}
