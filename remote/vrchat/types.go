package vrchat

import (
	"encoding/base64"
	"strings"
	"time"
)

// File is a VRChat File: a named, versioned object (an image, an avatar
// bundle, ...). The name is free text and not unique; the id is.
type File struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	OwnerID   string        `json:"ownerId"`
	MimeType  string        `json:"mimeType"`
	Extension string        `json:"extension"`
	Tags      []string      `json:"tags"`
	Versions  []FileVersion `json:"versions"`
}

// FileVersion is one version. Version equals its index in File.Versions;
// version 0 never has data.
type FileVersion struct {
	Version   int       `json:"version"`
	Status    string    `json:"status"` // complete, waiting, queued, none, error (an open set)
	CreatedAt string    `json:"created_at"`
	Deleted   bool      `json:"deleted"`
	File      *FileData `json:"file"`
	Signature *FileData `json:"signature"`
	Delta     *FileData `json:"delta"`
}

// FileData describes one stored part of a version.
type FileData struct {
	FileName    string `json:"fileName"`
	URL         string `json:"url"`
	MD5         string `json:"md5"` // base64 of the binary digest; absent for /file/image uploads
	SizeInBytes int64  `json:"sizeInBytes"`
	Status      string `json:"status"`
	Category    string `json:"category"`
	UploadID    string `json:"uploadId"`
}

// Status values the client acts on.
const (
	StatusComplete = "complete"
	StatusWaiting  = "waiting"
	StatusQueued   = "queued"
	StatusError    = "error"
)

// Created parses created_at, which may be "none" on some objects.
func (v *FileVersion) Created() time.Time {
	t, err := time.Parse(time.RFC3339Nano, v.CreatedAt)
	if err != nil {
		return time.Time{}
	}
	return t
}

// md5Bytes decodes a base64 MD5; a malformed or absent one gives nil (no check).
func md5Bytes(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil
	}
	return b
}

// ext returns the File's extension with its leading dot ("" if none).
func (f *File) ext() string {
	e := strings.TrimSpace(f.Extension)
	if e != "" && !strings.HasPrefix(e, ".") {
		e = "." + e
	}
	return e
}

// isAvatar reports whether VRChat analyses this File's versions.
func (f *File) isAvatar() bool {
	return f.MimeType == "application/x-avatar" || f.ext() == ".vrca"
}

// CurrentUser is the subset of GET /auth/user the client uses.
type CurrentUser struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
	// RequiresTwoFactorAuth is set instead of the user when a second
	// factor must be verified: "totp", "otp" and/or "emailOtp".
	RequiresTwoFactorAuth []string `json:"requiresTwoFactorAuth"`
}
