package runid

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	good := []string{"r1", "slurm-4711", "a.b_c:d-e", strings.Repeat("x", 200),
		New()}
	for _, id := range good {
		if err := Check(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	bad := []string{"", "-", "a b", "a/b", "ä", "x\n", strings.Repeat("x", 201)}
	for _, id := range bad {
		if Check(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
	if New() == New() {
		t.Error("two random run ids are equal")
	}
}
