package message

import (
	"testing"
)

// hotConfigs are the settings the per-message calls are measured with.
func hotConfigs() map[string]Config {
	withSubject := baseConfig()
	withSubject.Subject, withSubject.HasSubject = "load test", true

	numbered37 := baseConfig()
	numbered37.RcptCount, numbered37.RcptSet = 5, true
	numbered37.Numbered = true

	numbered39 := numbered37
	numbered39.Numbering = NumberingAppend

	countdown := baseConfig()
	countdown.RcptCount, countdown.RcptSet = 5, true

	large := baseConfig()
	large.Length = 10000

	file := baseConfig()
	file.File, file.HasFile = []byte("Subject: x\n\n.a\nb\n"), true

	// The stamp formats the clock's time into the buffer.
	stamped := baseConfig()
	stamped.Stamp, stamped.RunID = true, NewRunID()

	eml := baseConfig()
	eml.EML = [][]byte{[]byte("a\n"), []byte("Subject: b\n\nb\n")}

	return map[string]Config{
		"stamped":    stamped,
		"eml":        eml,
		"default":    withSubject,
		"countdown":  countdown,
		"numbered37": numbered37,
		"numbered39": numbered39,
		"l10000":     large,
		"file":       file,
	}
}

// The per-message calls must not allocate once the caller's buffer is
// large enough: the engine calls them tens of thousands of times a
// second.
func TestPerMessageCallsDoNotAllocate(t *testing.T) {
	for name, cfg := range hotConfigs() {
		g := mustNew(t, cfg)
		buf := make([]byte, 0, g.SizeHint())

		// Large sequence numbers give the longest numbers and ids.
		seq := int64(1 << 40)
		content := testing.AllocsPerRun(100, func() {
			seq++
			buf = g.AppendContent(buf[:0], seq, 7)
		})
		rcpt := testing.AllocsPerRun(100, func() {
			seq++
			for j := 0; j < g.RcptCount(); j++ {
				buf = g.AppendRecipient(buf[:0], seq, j)
			}
		})
		if content != 0 || rcpt != 0 {
			t.Errorf("%s: AppendContent %v allocs, AppendRecipient "+
				"%v allocs, want 0", name, content, rcpt)
		}
	}
}

func BenchmarkAppendContent(b *testing.B) {
	for name, cfg := range hotConfigs() {
		b.Run(name, func(b *testing.B) {
			g := mustNew(b, cfg)
			buf := make([]byte, 0, g.SizeHint())
			b.SetBytes(int64(len(g.AppendContent(nil, 0, 0))))
			b.ReportAllocs()

			for i := int64(0); b.Loop(); i++ {
				buf = g.AppendContent(buf[:0], i, 3)
			}
		})
	}
}

func BenchmarkAppendHead(b *testing.B) {
	g := mustNew(b, hotConfigs()["default"])
	buf := make([]byte, 0, g.SizeHint())
	b.ReportAllocs()

	for i := int64(0); b.Loop(); i++ {
		buf = g.AppendHead(buf[:0], i, 3)
	}
}

func BenchmarkAppendRecipient(b *testing.B) {
	for _, name := range []string{"default", "numbered37", "numbered39"} {
		b.Run(name, func(b *testing.B) {
			g := mustNew(b, hotConfigs()[name])
			buf := make([]byte, 0, 64)
			b.ReportAllocs()

			for i := int64(0); b.Loop(); i++ {
				buf = g.AppendRecipient(buf[:0], i, int(i%5))
			}
		})
	}
}

func BenchmarkAppendContentParallel(b *testing.B) {
	g := mustNew(b, hotConfigs()["default"])
	b.ReportAllocs()

	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, g.SizeHint())
		for i := int64(0); pb.Next(); i++ {
			buf = g.AppendContent(buf[:0], i, 1)
		}
	})
}
