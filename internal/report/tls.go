package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// tlsRows describe a run's TLS handshakes: how many, how many resumed
// and by which versions, then by which cipher suites. A run without
// TLS has no rows.
func tlsRows(t *metrics.TLS) []kv {
	if t == nil {
		return nil
	}
	return []kv{
		{"tls", fmt.Sprintf("%d handshakes, %d resumed: %s",
			t.Handshakes(), t.Resumed, countList(t.Versions))},
		{"ciphers", countList(t.Ciphers)},
	}
}

// countList writes counts as "key count, key count", most first, then
// by key.
func countList(counts map[string]int64) string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]),
			strings.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
