package templates

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// The build context's files are the same bytes with the same times whether `jwkspub render`
// writes them or the image target builds them, so both give the same validators: these two
// functions are the one definition of "the same".

// Gzip compresses deterministically: no name, no timestamp, fixed level, so equal documents
// give equal .gz files and equal validators.
func Gzip(data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid
	_, _ = w.Write(data)                                  // writes to a bytes.Buffer do not fail
	_ = w.Close()
	return b.Bytes()
}

// ModTimeEpoch is the start of the range ContentModTime maps content into, and the time of
// the image layer's directories.
var ModTimeEpoch = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// ContentModTime is the modification time jwkspub gives a served file: 1990-01-01 plus 30 bits
// of the content's SHA-256 in seconds (so always between 1990 and early 2024, never in the
// future). nginx's ETag is "mtime-size"; with the time derived from the content, a new
// document gets a new ETag even when it has the same length as the old one (a rotation
// [A,B] -> [B,C]), while re-rendering unchanged content keeps the ETag and verifiers' 304s.
// Two different documents share an ETag only if they have the same length and their hashes
// agree in 30 bits: a chance of about one in a billion per change.
func ContentModTime(data []byte) time.Time {
	sum := sha256.Sum256(data)
	return ModTimeEpoch.Add(time.Duration(binary.BigEndian.Uint32(sum[:4])>>2) * time.Second)
}
