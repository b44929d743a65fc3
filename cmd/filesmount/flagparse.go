package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/pflag"
)

// parseFlags parses args into f and turns pflag's errors into one line
// naming the flag (invalidArg, exit status 2): pflag's own wording names
// the flag in quotes among Go parsing details, and exited 1 like a failure.
func parseFlags(f *pflag.FlagSet, args []string) error {
	err := f.Parse(args)
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return err
	}
	var bad *pflag.InvalidValueError
	var missing *pflag.ValueRequiredError
	var unknown *pflag.NotExistError
	switch {
	case errors.As(err, &bad):
		return invalidArg{fmt.Sprintf("--%s %s: %s", bad.GetFlag().Name, shown(bad.GetValue()), wantFor(bad.GetFlag(), bad.Unwrap()))}
	case errors.As(err, &missing):
		return invalidArg{fmt.Sprintf("--%s: needs a value (%s)", missing.GetFlag().Name, wantFor(missing.GetFlag(), nil))}
	case errors.As(err, &unknown):
		name := "--" + unknown.GetSpecifiedName()
		if short := unknown.GetSpecifiedShortnames(); short != "" {
			name = "-" + short
		}
		return invalidArg{fmt.Sprintf("%s: unknown flag; '%s --help' lists the flags", shown(name), f.Name())}
	}
	return invalidArg{err.Error()}
}

// wantFor says what a flag of this type accepts, in place of the Go
// parser's message (cause), which quotes the value a second time.
func wantFor(f *pflag.Flag, cause error) string {
	switch f.Value.Type() {
	case "duration":
		return "want a number with a unit, e.g. 90s, 5m or 1h"
	case "bool":
		return "want true or false"
	}
	if cause != nil {
		return cause.Error()
	}
	return "a " + f.Value.Type()
}

// shown quotes a value only when it would not read as one word, so that a
// message stays one line whatever was typed.
func shown(v string) string {
	if v == "" || strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(v)
	}
	return v
}
