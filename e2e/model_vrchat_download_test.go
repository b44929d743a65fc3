//go:build linux

package e2e

import (
	"testing"

	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// TestModelVRChatDownloadsOnAPIHost runs the VRChat model against an
// emulator whose downloads redirect to another URL on the API host (one of
// the unrecorded answers, see vrchattest.DownloadOnAPIHost): every read
// then takes two hops, both with the session cookies and both paced by
// the throttle. One fixed seed (and the clock's): only the read path
// differs from TestModelVRChat.
func TestModelVRChatDownloadsOnAPIHost(t *testing.T) {
	modelTest(t, vrchatModelSetupWith("TestModelVRChatDownloadsOnAPIHost", vrchattest.Options{Download: vrchattest.DownloadOnAPIHost}), 2)
}
