package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/filesmount/filesmount/internal/secretfile"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain"
)

// remoteSetup is one configured, verified remote ready to mount.
type remoteSetup struct {
	store remote.Store
}

// credentialPath is flag if given, else name in the user's filesmount
// config directory.
func credentialPath(flag, name string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	dir, err := secretfile.ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

func cbrainTokenPath(flag string) (string, error) { return credentialPath(flag, "cbrain-token.json") }

// cbrainLogin is where CBRAIN is, the token to use there, and the local
// address the token is bound to (invalid if unknown: a token from
// CBRAIN_API_TOKEN, or a token file older than local_addr).
type cbrainLogin struct {
	url, token string
	localAddr  netip.Addr
}

// cbrainFromFlags finds the CBRAIN URL and token, from the flags, the
// environment and the token file, without any request. It returns nil
// when CBRAIN is not configured at all. connectCBRAIN then checks them
// with the portal.
func cbrainFromFlags(o *options) (*cbrainLogin, error) {
	url, token := o.cbrainURL, os.Getenv("CBRAIN_API_TOKEN")
	var localAddr netip.Addr
	// Read once: no helper this process starts (fusermount3) inherits it.
	os.Unsetenv("CBRAIN_API_TOKEN")
	if token == "" {
		path, err := cbrainTokenPath(o.cbrainTokenFile)
		if err != nil {
			return nil, err
		}
		raw, err := secretfile.Read(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if url != "" {
				return nil, fmt.Errorf("cbrain: no token for %s: run 'filesmount login cbrain --url %s' or set CBRAIN_API_TOKEN", url, url)
			}
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("cbrain: %w", err)
		}
		var tf cbrain.TokenFile
		if err := json.Unmarshal(raw, &tf); err != nil || tf.Token == "" {
			return nil, fmt.Errorf("cbrain: token file %s is damaged; run 'filesmount login cbrain' again", path)
		}
		cfg, err := tf.Config()
		if err != nil {
			return nil, fmt.Errorf("cbrain: token file %s is damaged (%v); run 'filesmount login cbrain' again", path, err)
		}
		localAddr = cfg.LocalAddr
		if url == "" {
			url = tf.URL
		} else if url != tf.URL {
			return nil, fmt.Errorf("cbrain: the token in %s is for %s, not %s; run 'filesmount login cbrain --url %s'", path, tf.URL, url, url)
		}
		token = tf.Token
	} else if url == "" {
		return nil, usageError{"CBRAIN_API_TOKEN is set but --cbrain-url is not"}
	}
	return &cbrainLogin{url: url, token: token, localAddr: localAddr}, nil
}

// connectCBRAIN checks the token with the portal, so that a bad token or
// an unreachable portal fails here with one clear line instead of as EIO
// on first access. Every connection leaves from the address the token is
// bound to, if known (remote/cbrain/pindial.go).
func connectCBRAIN(ctx context.Context, login cbrainLogin, o *options, logger *log.Logger) (*remoteSetup, error) {
	url := login.url
	if err := checkRemoteURL("cbrain", url, o.allowInsecureHTTP); err != nil {
		return nil, err
	}
	client, err := cbrain.NewClient(cbrain.Config{URL: url, Token: login.token, LocalAddr: login.localAddr})
	if err != nil {
		return nil, err
	}
	client.SyncTimeout = o.syncTimeout
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	userID, err := client.CheckSession(cctx)
	switch {
	case errors.Is(err, remote.ErrAuth):
		return nil, fmt.Errorf("cbrain: the portal at %s rejected the token (expired, invalid, or used from another IP address); run: filesmount login cbrain --url %s", url, url)
	case err != nil:
		return nil, fmt.Errorf("cbrain: cannot use the portal at %s: %w", url, err)
	}
	logger.Printf("cbrain: connected to %s as user %d", url, userID)
	store := cbrain.NewStore(client)
	store.FailureTTL = o.metadataTTL // a failed collection listing is kept as long as a listing
	return &remoteSetup{store: store}, nil
}
