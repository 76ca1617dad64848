package report

import (
	"bytes"
	"container/heap"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"

	"github.com/keytrail/keytrail/model"
)

// SampleSizes are the sample sizes an auditor may ask for.
var SampleSizes = []int{25, 40, 60}

// SampleAlgorithm describes how sample.csv is drawn; it is printed in the PDF
// and recorded in the manifest.
const SampleAlgorithm = "key(row) = HMAC-SHA256(key = UTF-8 bytes of the seed, message = UTF-8 bytes of action_id); " +
	"the sample is the n rows of population.csv with the lowest keys (compared as bytes), listed in ascending key order"

// SampleKey returns the hex sampling key of an action id under seed.
func SampleKey(seed, actionID string) string {
	m := hmac.New(sha256.New, []byte(seed))
	m.Write([]byte(actionID))
	return hex.EncodeToString(m.Sum(nil))
}

type sampled struct {
	key [sha256.Size]byte
	row model.Correlation
}

// sampleHeap is a max-heap on key holding the n lowest keys seen so far.
type sampleHeap []sampled

func (h sampleHeap) Len() int           { return len(h) }
func (h sampleHeap) Less(i, j int) bool { return bytes.Compare(h[i].key[:], h[j].key[:]) > 0 }
func (h sampleHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sampleHeap) Push(x any)        { *h = append(*h, x.(sampled)) }
func (h *sampleHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sampler draws the seeded sample in one pass, holding at most n rows.
type sampler struct {
	n   int
	mac hash.Hash
	h   sampleHeap
	sum []byte
}

func newSampler(seed string, n int) *sampler {
	return &sampler{n: n, mac: hmac.New(sha256.New, []byte(seed)), h: make(sampleHeap, 0, n+1)}
}

func (s *sampler) add(c model.Correlation) {
	if s.n <= 0 {
		return
	}
	s.mac.Reset()
	s.mac.Write([]byte(c.ActionID))
	s.sum = s.mac.Sum(s.sum[:0])
	var k [sha256.Size]byte
	copy(k[:], s.sum)
	if len(s.h) < s.n {
		heap.Push(&s.h, sampled{key: k, row: c})
		return
	}
	if bytes.Compare(k[:], s.h[0].key[:]) < 0 {
		s.h[0] = sampled{key: k, row: c}
		heap.Fix(&s.h, 0)
	}
}

// rows returns the sample in ascending key order.
func (s *sampler) rows() []sampled {
	out := append([]sampled(nil), s.h...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].key[:], out[j].key[:]) < 0 })
	return out
}
