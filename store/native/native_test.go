package native

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
)

func ptr(b bool) *bool { return &b }

// block builds a block of every encodable type.
func block(t testing.TB) []byte {
	t.Helper()
	tm := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	cols := []struct {
		name, typ string
		vals      any
	}{
		{"s", "String", []string{"a\x00\n", ""}},
		{"raw", "LowCardinality(String)", [][]byte{{0xff}, nil}},
		{"i", "Int64", []int64{-1, 1 << 62}},
		{"u", "UInt64", []uint64{0, 1<<64 - 1}},
		{"u32", "UInt32", []uint32{7, 1<<32 - 1}},
		{"b", "UInt8", []bool{true, false}},
		{"nb", "Nullable(UInt8)", []*bool{nil, ptr(true)}},
		{"f", "Float64", []float64{1.5, -0}},
		{"t", "DateTime64(3, 'UTC')", []time.Time{tm, {}}},
		{"nt", "Nullable(DateTime64(3, 'UTC'))", []time.Time{{}, tm}},
		{"d", "DateTime", []time.Time{tm, tm}},
		{"arr", "Array(String)", [][]string{{"x", "y"}, nil}},
	}
	var cs []*Column
	for _, c := range cols {
		col, err := NewColumn(c.name, c.typ)
		require.NoError(t, err)
		require.NoError(t, col.Append(c.vals))
		cs = append(cs, col)
	}
	b, err := AppendBlock(nil, cs)
	require.NoError(t, err)
	var w bytes.Buffer
	blk, err := NewBlock(cs)
	require.NoError(t, err)
	n, err := blk.WriteTo(&w)
	require.NoError(t, err)
	require.EqualValues(t, blk.Size(), n)
	require.Equal(t, b, w.Bytes(), "a Block writes what AppendBlock appends")
	return b
}

func TestRoundTrip(t *testing.T) {
	blocks, err := DecodeAll(block(t))
	require.NoError(t, err)
	require.Len(t, blocks, 1)
	b := blocks[0]
	require.Equal(t, 2, b.Rows)
	require.Equal(t, []string{"s", "raw", "i", "u", "u32", "b", "nb", "f", "t", "nt", "d", "arr"}, b.Columns)
	require.Equal(t, "String", b.Types[1], "LowCardinality is sent as its nested type")
	tm := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	want := [][]any{
		{"a\x00\n", "\xff", int64(-1), uint64(0), uint64(7), uint64(1), nil, 1.5, tm, nil, tm.Truncate(time.Second), []any{"x", "y"}},
		{"", "", int64(1 << 62), uint64(1<<64 - 1), uint64(1<<32 - 1), uint64(0), uint64(1), 0.0, time.Unix(0, 0).UTC(), tm, tm.Truncate(time.Second), []any{}},
	}
	for r := range want {
		for c, v := range b.Vectors {
			require.Equal(t, want[r][c], v.Value(r), "row %d column %s", r, b.Columns[c])
		}
	}
	var hw *bool
	require.NoError(t, b.Vectors[6].Assign(1, &hw))
	require.True(t, *hw)
	var arr []string
	require.NoError(t, b.Vectors[11].Assign(0, &arr))
	require.Equal(t, []string{"x", "y"}, arr)
}

func TestEncodeErrors(t *testing.T) {
	_, err := NewColumn("m", "Map(String, String)")
	require.Error(t, err)
	c, err := NewColumn("s", "String")
	require.NoError(t, err)
	require.Error(t, c.Append([]int64{1}))
	a, _ := NewColumn("a", "Int64")
	require.NoError(t, a.Append([]int64{1, 2}))
	require.NoError(t, c.Append([]string{"x"}))
	_, err = AppendBlock(nil, []*Column{a, c})
	require.ErrorContains(t, err, "has 1 values")
}

// sampleLowCardinality is what chDB 26.5 returned in Native for
// SELECT toLowCardinality('ab') AS lc.
var sampleLowCardinality = []byte("\x01\x01\x02lc\x16LowCardinality(String)" +
	"\x01\x00\x00\x00\x00\x00\x00\x00" + // key version
	"\x00\x06\x00\x00\x00\x00\x00\x00" + // UInt8 indexes, additional keys, update dictionary
	"\x02\x00\x00\x00\x00\x00\x00\x00\x00\x02ab" + // two keys: "", "ab"
	"\x01\x00\x00\x00\x00\x00\x00\x00\x01") // one index: 1

func TestLowCardinality(t *testing.T) {
	blocks, err := DecodeAll(sampleLowCardinality)
	require.NoError(t, err)
	require.Equal(t, "ab", blocks[0].Vectors[0].Value(0))
}

// TestStream feeds a stream of blocks cut at every byte: each block comes
// out once, whole.
func TestStream(t *testing.T) {
	one := block(t)
	stream := append(append(append([]byte{}, one...), sampleLowCardinality...), one...)
	for cut := 1; cut < len(stream); cut += 7 {
		var d Decoder
		var got []*store.Block
		for off := 0; off < len(stream); off += cut {
			d.Feed(stream[off:min(off+cut, len(stream))])
			for {
				b, err := d.Next()
				if errors.Is(err, ErrShort) || b == nil {
					break
				}
				require.NoError(t, err)
				got = append(got, b)
			}
		}
		require.Len(t, got, 3, "cut %d", cut)
		require.Zero(t, d.Buffered())
	}
}

func TestTruncated(t *testing.T) {
	b := block(t)
	for i := 1; i < len(b); i++ {
		_, err := DecodeAll(b[:i])
		require.ErrorIs(t, err, ErrShort, "prefix %d", i)
	}
}

func TestUnsupportedType(t *testing.T) {
	b := []byte("\x01\x01\x01m\x13Map(String, String)\x00")
	_, err := DecodeAll(b)
	require.ErrorContains(t, err, "unsupported column type")
}

func FuzzDecode(f *testing.F) {
	f.Add(block(f))
	f.Add(sampleLowCardinality)
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0x0f, 1, 'x', 6, 'S', 't', 'r', 'i', 'n', 'g'})
	f.Fuzz(func(t *testing.T, b []byte) {
		blocks, err := DecodeAll(b)
		if err != nil {
			return
		}
		for _, bl := range blocks {
			require.Len(t, bl.Vectors, len(bl.Columns))
			for _, v := range bl.Vectors {
				require.Equal(t, bl.Rows, v.Len())
				for r := 0; r < v.Len(); r++ {
					_ = v.Value(r)
				}
			}
		}
	})
}

// stringColumn encodes vals as one String column block.
func stringColumn(tb testing.TB, vals []string) []byte {
	tb.Helper()
	col, err := NewColumn("s", "String")
	require.NoError(tb, err)
	require.NoError(tb, col.Append(vals))
	b, err := AppendBlock(nil, []*Column{col})
	require.NoError(tb, err)
	return b
}

// TestStringInterning decodes String columns of every shape the interning
// treats differently — one repeated value, few values cycling, more distinct
// values than it remembers, all distinct (it stops looking), distinct values
// first and repeats after the probe, empty strings and NUL bytes — and
// requires every value as written.
func TestStringInterning(t *testing.T) {
	gen := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	for name, vals := range map[string][]string{
		"one value":          gen(3000, func(int) string { return "prod" }),
		"few cycling":        gen(3000, func(i int) string { return []string{"verified", "stale", "", "weak_factor"}[i%4] }),
		"more than it keeps": gen(5000, func(i int) string { return strconv.Itoa(i % (internMax + 50)) }),
		"all distinct":       gen(5000, func(i int) string { return "prod/" + strconv.Itoa(i) }),
		"distinct then repeats": gen(5000, func(i int) string {
			if i < internProbe {
				return strconv.Itoa(i)
			}
			return "same"
		}),
		"empty and NUL": gen(2000, func(i int) string { return []string{"", "\x00", "a\x00b", ""}[i%4] }),
		"single":        {"x"},
	} {
		t.Run(name, func(t *testing.T) {
			blocks, err := DecodeAll(stringColumn(t, vals))
			require.NoError(t, err)
			require.Len(t, blocks, 1)
			require.Equal(t, store.StringVector(vals), blocks[0].Vectors[0])
		})
	}
}

// BenchmarkDecodeStrings decodes a block of 65 536 rows: a low-cardinality
// String column and a column of distinct ids.
func BenchmarkDecodeStrings(b *testing.B) {
	const n = 1 << 16
	low, ids := make([]string, n), make([]string, n)
	for i := range n {
		low[i] = []string{"verified", "stale", "weak_factor", "no_assertion"}[i%4]
		ids[i] = "prod/" + strconv.Itoa(i)
	}
	lc, err := NewColumn("v", "String")
	require.NoError(b, err)
	require.NoError(b, lc.Append(low))
	ic, err := NewColumn("id", "String")
	require.NoError(b, err)
	require.NoError(b, ic.Append(ids))
	buf, err := AppendBlock(nil, []*Column{lc, ic})
	require.NoError(b, err)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAll(buf); err != nil {
			b.Fatal(err)
		}
	}
}
