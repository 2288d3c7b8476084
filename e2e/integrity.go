package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/record"
)

// ErrIntegrity: a Record's mac_signature does not verify. Such a Record
// is silently ignored and the session restarts [R-E2E.23].
var ErrIntegrity = errors.New("e2e: record integrity check failed")

// macSize is the size of an HMAC-SHA256 mac_signature.
const macSize = sha256.Size

// IntegrityInput returns the bytes a Record's MAC or signature covers:
// its non-payload fields in field number order, the Record's own first
// (mac_signature excluded), then those of the SessionContextRecord; uint64
// as 8 bytes and uint32 and enums as 4 bytes, big endian; strings and
// bytes as they are [R-E2E.32], [R-E2E.32.1], [R-E2E.34].
func IntegrityInput(r *record.Record) []byte {
	b := make([]byte, 0, 128+len(r.SenderCert))
	b = append(b, r.Version...)
	b = append(b, r.ToID...)
	b = append(b, r.FromID...)
	b = binary.BigEndian.AppendUint32(b, uint32(r.PayloadSecurity))
	b = append(b, r.SenderCert...)
	if r.Type == record.TypeSessionContext {
		sc := &r.Session
		b = binary.BigEndian.AppendUint64(b, sc.SessionID)
		b = binary.BigEndian.AppendUint64(b, sc.SequenceID)
		b = binary.BigEndian.AppendUint64(b, sc.ExpectedID)
		b = binary.BigEndian.AppendUint64(b, sc.RetransmitID)
		b = binary.BigEndian.AppendUint32(b, uint32(sc.PayloadSAR))
		b = binary.BigEndian.AppendUint32(b, uint32(sc.PayloadRecSAR))
	}
	return b
}

// Sign protects r's non-payload fields with the signature method:
// ECDSA_P256_SHA256_ASN1 with key, certDER (key's certificate) going in
// sender_cert [R-E2E.31].
func Sign(r *record.Record, key crypto.Signer, certDER []byte) error {
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return errors.New("e2e: the signature method needs an ECDSA P-256 key")
	}
	r.SenderCert = certDER
	r.MACSignature = nil
	h := sha256.Sum256(IntegrityInput(r))
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("e2e: signing a record: %w", err)
	}
	r.MACSignature = sig
	return nil
}

// VerifySignature checks a Record protected with the signature method
// against the public key of its sender_cert [R-E2E.31]. It checks the
// signature only: whether the certificate is trusted is the caller's
// matter.
func VerifySignature(r *record.Record) error {
	if len(r.SenderCert) == 0 {
		return fmt.Errorf("%w: signature without sender_cert", ErrIntegrity)
	}
	cert, err := x509.ParseCertificate(r.SenderCert)
	if err != nil {
		return fmt.Errorf("%w: sender_cert: %v", ErrIntegrity, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: sender_cert has no ECDSA P-256 key", ErrIntegrity)
	}
	h := sha256.Sum256(IntegrityInput(r))
	if !ecdsa.VerifyASN1(pub, h[:], r.MACSignature) {
		return fmt.Errorf("%w: bad signature", ErrIntegrity)
	}
	return nil
}

// MAC returns the HMAC-SHA256 of r's non-payload fields with key
// [R-E2E.33].
func MAC(key []byte, r *record.Record) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(IntegrityInput(r))
	return m.Sum(nil)
}

// isMAC reports whether r's mac_signature is a MAC rather than a
// signature: 32 bytes and no sender_cert.
func isMAC(r *record.Record) bool {
	return len(r.MACSignature) == macSize && len(r.SenderCert) == 0
}
