package scram

import (
	"encoding/base64"
	"testing"
)

// TestRFC7677Vector checks the SCRAM-SHA-256 example of RFC 7677 §3: the
// client proof computed there must verify against keys derived here.
func TestRFC7677Vector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	k := Derive(SHA256, "pencil", salt, 4096)
	auth := []byte("n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	sig, ok := k.VerifyProof(SHA256, auth, proof)
	if !ok {
		t.Fatal("RFC 7677 proof rejected")
	}
	if got, want := base64.StdEncoding.EncodeToString(sig), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; got != want {
		t.Fatalf("server signature %s, want %s", got, want)
	}
	if !k.VerifyPassword(SHA256, "pencil") || k.VerifyPassword(SHA256, "pencil2") {
		t.Fatal("VerifyPassword gives the wrong answer")
	}
	if _, ok := k.VerifyProof(SHA256, auth, proof[:10]); ok {
		t.Fatal("short proof accepted")
	}
}

// TestRFC5802Vector: the SCRAM-SHA-1 example of RFC 5802 §5.
func TestRFC5802Vector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("QSXCR+Q6sek8bf92")
	k := Derive(SHA1, "pencil", salt, 4096)
	auth := []byte("n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j")
	proof, _ := base64.StdEncoding.DecodeString("v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")
	sig, ok := k.VerifyProof(SHA1, auth, proof)
	if !ok || base64.StdEncoding.EncodeToString(sig) != "rmF9pqV8S7suAoZWja4dJRkFsKQ=" {
		t.Fatalf("RFC 5802 vector failed: ok=%v", ok)
	}
}
