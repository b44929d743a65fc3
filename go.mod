module github.com/filesmount/filesmount

go 1.26.8

require (
	github.com/balena-os/librsync-go v0.9.0
	github.com/hanwen/go-fuse/v2 v2.12.1
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/spf13/pflag v1.0.10
	golang.org/x/crypto v0.58.0
	golang.org/x/sync v0.24.0
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
	golang.org/x/time v0.16.0
)

require github.com/balena-os/circbuf v0.1.3 // indirect
