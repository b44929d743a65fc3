package vrchat

import (
	"fmt"
	"sort"
	"strings"

	"github.com/filesmount/filesmount/remote"
)

// Which tag views take images. POST /file/image accepts the tags of the
// spec's ImagePurpose enum (vrchatapi/specification
// openapi/components/schemas/ImagePurpose.yaml). Two of them need more
// than a file, which a file written into a directory cannot carry:
// avatargallery a galleryId (the avatar; VRCX src/api/avatar.js sends it),
// emojianimated frames and framesOverTime (a sprite sheet,
// paths/files.yaml: "Required for animated images"). Tags outside the
// enum (VRCX also sends worldimage) show up as views when Files have them,
// but are not offered for uploads: nothing documents that VRChat takes
// them.

// imagePurposes maps each ImagePurpose to "" if a plain upload works, or
// to what else it needs.
var imagePurposes = map[string]string{
	"admin":          "",
	"avatargallery":  "VRChat needs the avatar it belongs to (galleryId), which a file copied here cannot say",
	"avatarimage":    "",
	"bundle":         "",
	"emoji":          "",
	"emojianimated":  "VRChat needs it as a sprite sheet with its frame count and rate (frames, framesOverTime), which a file copied here cannot say",
	"gallery":        "",
	"icon":           "",
	"listinggallery": "",
	"product":        "",
	"sticker":        "",
}

// uploadableTags lists the ImagePurpose tags a plain upload works with.
func uploadableTags() string {
	var l []string
	for t, need := range imagePurposes {
		if need == "" {
			l = append(l, t)
		}
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}

// checkImageTag refuses uploads into a tag view VRChat does not take
// plain image uploads for (EPERM: the view exists, writing there is not
// allowed).
func checkImageTag(tag string) error {
	need, known := imagePurposes[tag]
	switch {
	case !known:
		return fmt.Errorf("vrchat: images cannot be added to tag %q: VRChat takes uploads only for its image purposes (%s): %w", tag, uploadableTags(), remote.ErrNotPermitted)
	case need != "":
		return fmt.Errorf("vrchat: images cannot be added to tag %q here: %s: %w", tag, need, remote.ErrNotPermitted)
	}
	return nil
}
