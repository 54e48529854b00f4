package server

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// TokenFile in the data folder holds the REST API's bearer tokens made by
// `ignis token create`: one "name sha256-hex" a line. Only hashes are kept,
// so the file does not give the tokens away.
const TokenFile = "api-tokens"

// apiToken is a token's name and the SHA-256 of its secret.
type apiToken struct {
	name string
	hash [sha256.Size]byte
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// parseTokens reads console.tokens ("name:sha256-hex").
func parseTokens(list []string) ([]apiToken, error) {
	out := make([]apiToken, 0, len(list))
	for _, s := range list {
		name, hx, ok := strings.Cut(s, ":")
		t, err := newToken(name, hx)
		if !ok || err != nil {
			return nil, fmt.Errorf("config: console.tokens: %q is not name:sha256-hex (see ignis token create)", s)
		}
		out = append(out, t)
	}
	return out, nil
}

func newToken(name, hx string) (apiToken, error) {
	t := apiToken{name: name}
	b, err := hex.DecodeString(hx)
	if !tokenName.MatchString(name) || err != nil || len(b) != sha256.Size {
		return t, errors.New("bad token")
	}
	copy(t.hash[:], b)
	return t, nil
}

// readTokens reads the data folder's token file (none is no tokens).
func readTokens(dataDir string) ([]apiToken, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []apiToken
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, hx, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if t, err := newToken(name, hx); err == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// matchToken returns the name of the token whose hash secret has, comparing
// every one in constant time.
func matchToken(tokens []apiToken, secret string) (string, bool) {
	h := sha256.Sum256([]byte(secret))
	found := ""
	for _, t := range tokens {
		if subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1 {
			found = t.name
		}
	}
	return found, found != ""
}

// CreateToken makes a token called name, records its hash in the data
// folder and returns the secret (shown once) and the config line that
// would accept it instead.
func CreateToken(dataDir, name string) (secret, configLine string, err error) {
	if !tokenName.MatchString(name) {
		return "", "", fmt.Errorf("token name %q: use 1-64 letters, digits, '.', '_' or '-'", name)
	}
	tokens, err := readTokens(dataDir)
	if err != nil {
		return "", "", err
	}
	for _, t := range tokens {
		if t.name == name {
			return "", "", fmt.Errorf("a token called %q exists (ignis token del it first)", name)
		}
	}
	var r [32]byte
	_, _ = rand.Read(r[:])
	secret = "ignis_" + hex.EncodeToString(r[:])
	h := sha256.Sum256([]byte(secret))
	line := name + " " + hex.EncodeToString(h[:]) + "\n"
	f, err := os.OpenFile(filepath.Join(dataDir, TokenFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", "", err
	}
	if _, err = f.WriteString(line); err != nil {
		f.Close()
		return "", "", err
	}
	return secret, name + ":" + hex.EncodeToString(h[:]), f.Close()
}

// TokenNames lists the data folder's tokens.
func TokenNames(dataDir string) ([]string, error) {
	tokens, err := readTokens(dataDir)
	names := make([]string, 0, len(tokens))
	for _, t := range tokens {
		names = append(names, t.name)
	}
	return names, err
}

// DeleteToken removes the token called name from the data folder.
func DeleteToken(dataDir, name string) error {
	tokens, err := readTokens(dataDir)
	if err != nil {
		return err
	}
	var b strings.Builder
	found := false
	for _, t := range tokens {
		if t.name == name {
			found = true
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", t.name, hex.EncodeToString(t.hash[:]))
	}
	if !found {
		return fmt.Errorf("there is no token called %q", name)
	}
	path := filepath.Join(dataDir, TokenFile)
	if err := os.WriteFile(path+".new", []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(path+".new", path)
}
