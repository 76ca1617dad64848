package rowbinary

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func str(s string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(s)))
	return append(b, s...)
}

// sample is what chDB 26.5 returned for
// SELECT toDateTime64('2026-01-02 03:04:05.678', 3, 'UTC') x, [1,2] a, CAST(NULL AS Nullable(String)) n, true b
func sample() []byte {
	var b []byte
	b = binary.AppendUvarint(b, 4)
	for _, s := range []string{"x", "a", "n", "b", "DateTime64(3, 'UTC')", "Array(UInt8)", "Nullable(String)", "Bool"} {
		b = append(b, str(s)...)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC).UnixMilli()))
	b = append(b, 2, 1, 2) // array of two UInt8
	b = append(b, 1)       // NULL
	b = append(b, 1)       // true
	return b
}

func TestDecode(t *testing.T) {
	res, err := Decode(sample())
	require.NoError(t, err)
	require.Equal(t, []string{"x", "a", "n", "b"}, res.Columns)
	require.Len(t, res.Rows, 1)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC), res.Rows[0][0])
	require.Equal(t, []any{uint64(1), uint64(2)}, res.Rows[0][1])
	require.Nil(t, res.Rows[0][2])
	require.Equal(t, true, res.Rows[0][3])

	empty, err := Decode(nil)
	require.NoError(t, err)
	require.Empty(t, empty.Rows)
}

func TestDecodeTruncated(t *testing.T) {
	b := sample()
	for i := 1; i < len(b); i++ {
		_, err := Decode(b[:i])
		if i < len(b) {
			// Every strict prefix either fails or decodes zero rows (header only).
			if err == nil {
				res, _ := Decode(b[:i])
				require.Empty(t, res.Rows, "prefix %d", i)
			}
		}
	}
}

func TestUnsupportedType(t *testing.T) {
	var b []byte
	b = binary.AppendUvarint(b, 1)
	b = append(b, str("m")...)
	b = append(b, str("Map(String, String)")...)
	_, err := Decode(b)
	require.ErrorContains(t, err, "unsupported column type")
}

func FuzzDecode(f *testing.F) {
	f.Add(sample())
	f.Add([]byte{})
	f.Add([]byte{1, 1, 'x', 6, 'S', 't', 'r', 'i', 'n', 'g', 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Decode(b)
		if err == nil {
			for _, row := range res.Rows {
				require.Len(t, row, len(res.Columns))
			}
		}
	})
}
