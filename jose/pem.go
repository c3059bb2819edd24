package jose

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// parsePEM reads the first PEM block of data as a key. The block's label picks the one DER
// parser to try: a PKCS#8 label over SEC 1 bytes is an error, not a guess.
func parsePEM(data []byte) (key any, label string, err error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("no PEM block in the key file")
	}
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, block.Type, fmt.Errorf("PEM block %q is not a key", block.Type)
	}
	if err != nil {
		return nil, block.Type, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	return key, block.Type, nil
}

// ParsePrivateKeyPEM reads a private key in PEM: PKCS#8 ("PRIVATE KEY"), SEC 1
// ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). Which algorithm it may sign for is
// CheckSigningKey's question.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	key, label, err := parsePEM(data)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		// Public keys, and X25519 keys (they parse from PKCS#8), cannot sign.
		return nil, fmt.Errorf("PEM block %q is not a private signing key", label)
	}
	return signer, nil
}

// ParsePublicKeyPEM reads a public key in PEM (PKIX "PUBLIC KEY" or PKCS#1
// "RSA PUBLIC KEY"), or a private key in any form ParsePrivateKeyPEM takes, of which it
// returns the public half: whoever holds the signing key file can verify with it too.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	key, label, err := parsePEM(data)
	if err != nil {
		return nil, err
	}
	if s, ok := key.(crypto.Signer); ok {
		return s.Public(), nil
	}
	if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block %q holds a %T, not a verification key", label, key)
	}
	return key, nil
}
