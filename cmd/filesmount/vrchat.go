package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"time"

	ratelimit "golang.org/x/time/rate"

	"github.com/filesmount/filesmount/internal/secretfile"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat"
)

// defaultContact goes in the User-Agent VRChat requires ("Name/Version
// contact"); users running their own copy should pass --vrchat-contact.
const defaultContact = "https://github.com/filesmount/filesmount"

func userAgent(contact string) string {
	if contact == "" {
		contact = defaultContact
	}
	return "filesmount/" + version + " " + contact
}

func vrchatSessionPath(flag string) (string, error) {
	return credentialPath(flag, "vrchat-session.json")
}

// vrchatLogin is the VRChat API URL ("" for the default) and the session
// to use there.
type vrchatLogin struct {
	url     string
	cookies vrchat.Cookies
}

// vrchatFromFlags loads the session saved by `filesmount login vrchat`,
// without any request; connectVRChat then checks it, so an expired cookie
// fails at start-up with one line. The daemon never logs in by itself:
// VRChat rate-limits new sessions. It returns nil without --vrchat.
func vrchatFromFlags(o *options) (*vrchatLogin, error) {
	if !o.vrchat {
		return nil, nil
	}
	path, err := vrchatSessionPath(o.vrchatSessionFile)
	if err != nil {
		return nil, err
	}
	raw, err := secretfile.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("vrchat: not logged in (no %s); run: filesmount login vrchat", path)
	} else if err != nil {
		return nil, fmt.Errorf("vrchat: %w", err)
	}
	var sf vrchat.SessionFile
	if err := json.Unmarshal(raw, &sf); err != nil || sf.Cookies.Auth == "" {
		return nil, fmt.Errorf("vrchat: session file %s is damaged; run 'filesmount login vrchat' again", path)
	}
	url := o.vrchatURL
	if url == "" {
		url = sf.URL
	} else if sf.URL != "" && !sameOrigin(url, sf.URL) {
		// The cookies belong to the host they were issued by.
		return nil, fmt.Errorf("vrchat: the session in %s is for %s, not %s; run: filesmount login vrchat --url %s", path, sf.URL, url, url)
	}
	return &vrchatLogin{url: url, cookies: sf.Cookies}, nil
}

// vrchatThrottle paces the API at rate requests per second, in bursts of
// twice as many (VRChat's defaults are 5 and 10).
func vrchatThrottle(rate float64) vrchat.ThrottleOptions {
	if rate <= 0 {
		return vrchat.ThrottleOptions{}
	}
	return vrchat.ThrottleOptions{Rate: ratelimit.Limit(rate), Burst: max(1, int(math.Ceil(2*rate)))}
}

func connectVRChat(ctx context.Context, url string, cookies vrchat.Cookies, o *options, logger *log.Logger) (*remoteSetup, error) {
	if url == "" {
		url = vrchat.DefaultURL
	}
	if err := checkRemoteURL("vrchat", url, o.allowInsecureHTTP); err != nil {
		return nil, err
	}
	client, err := vrchat.NewClient(vrchat.Config{URL: url, UserAgent: userAgent(o.vrchatContact), Cookies: cookies,
		Throttle: vrchatThrottle(o.vrchatRate)})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	user, err := client.CurrentUser(cctx)
	switch {
	case errors.Is(err, remote.ErrAuth):
		return nil, fmt.Errorf("vrchat: the saved session for %s has expired or was revoked; run: filesmount login vrchat", client.URL())
	case err != nil:
		return nil, fmt.Errorf("vrchat: cannot use %s: %w", client.URL(), err)
	}
	logger.Printf("vrchat: connected to %s as %s", client.URL(), user.DisplayName)
	return &remoteSetup{store: vrchat.NewStore(client)}, nil
}
