package preview

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dttui/dttui/schema"
	"github.com/vmihailenco/msgpack/v5"
)

// Every document the encoder writes passes; a header that declares more
// than the bytes behind it, or nesting beyond the bound, does not — and
// the preview says so instead of taking all memory.
func TestMsgpackBounded(t *testing.T) {
	docs := []any{
		nil, true, 1, -1, 300, -70000, 1 << 40, 1.5, float32(2.5), "x", strings.Repeat("s", 70000),
		[]byte{1, 2, 3}, bytes.Repeat([]byte{7}, 300), []any{}, map[string]any{},
		map[string]any{"robot": "rover-1", "pose": []any{1.5, -2, map[string]any{"ok": true}}, "blob": []byte("abc")},
		make([]any, 70000), msgpack.RawMessage{0xd4, 0x01, 0x02}, msgpack.RawMessage{0xc7, 0x02, 0x05, 0xaa, 0xbb},
	}
	for _, d := range docs {
		b, err := msgpack.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := msgpackBounded(b); err != nil {
			t.Errorf("%T %.40v: %v (% x)", d, d, err, b[:min(len(b), 12)])
		}
	}
	deep := append(bytes.Repeat([]byte{0x91}, maxMsgpackDepth), 0x01)
	if err := msgpackBounded(deep); err != nil {
		t.Errorf("%d deep: %v", maxMsgpackDepth, err)
	}
	for name, b := range map[string][]byte{
		"map32 of 3.4e9 entries":    []byte("\xdf\xce\xca6\f"),
		"array32 of 4e9":            {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},
		"array16 of 3 with 2":       {0xdc, 0x00, 0x03, 0x01, 0x02},
		"str32 past the end":        {0xdb, 0x00, 0x10, 0x00, 0x00, 'a'},
		"bin8 past the end":         {0xc4, 0x05, 1, 2},
		"ext32 past the end":        {0xc9, 0x00, 0x00, 0x01, 0x00, 0x01},
		"fixmap missing a value":    {0x81, 0xa1, 'a'},
		"uint64 cut":                {0xcf, 1, 2, 3},
		"the unused code":           {0xc1},
		"too deep":                  append(bytes.Repeat([]byte{0x91}, maxMsgpackDepth+1), 0x01),
		"a length header cut short": {0xda, 0x00},
	} {
		if err := msgpackBounded(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	got := Render([]byte("\xdf\xce\xca6\f"), declOf(schema.FrameMsgpack), Options{MaxLines: 50})
	if got.Err == nil || !strings.Contains(got.Err.Error(), "not valid msgpack") || got.Kind != KindHex {
		t.Fatalf("a lying map32 header: %+v", got)
	}
}

// What the check lets through, the decoder decodes within the payload's
// own size; what it refuses, it says why.
func FuzzMsgpackBounded(f *testing.F) {
	f.Add([]byte("\xdf\xce\xca6\f"))
	f.Add([]byte{0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xc3, 0xc0})
	f.Add([]byte{0xc7, 0x02, 0x05, 0xaa, 0xbb})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := msgpackBounded(b); err != nil {
			if err.Error() == "" {
				t.Fatal("an error without words")
			}
			return
		}
		var v any
		_ = msgpack.Unmarshal(b, &v)
	})
}
