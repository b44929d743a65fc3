//go:build !linux

package fs

// macOS passes renamex_np flags with other values; exchange and
// no-replace are not offered there.
const (
	renameExchange  = 1 << 30
	renameNoReplace = 1 << 29
)
