package message

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendRecipient(t *testing.T) {
	type cfgEdit struct {
		rcpt     string
		r        int
		rcptSet  bool
		numbered bool
		scheme   Numbering
	}
	cases := []struct {
		name string
		cfg  cfgEdit
		seqs []int64
		want []string // recipients of each seq in turn
	}{{
		name: "3.7 one recipient is plain",
		cfg:  cfgEdit{rcpt: "foo@vm", r: 1},
		seqs: []int64{0, 5},
		want: []string{"foo@vm", "foo@vm"},
	}, {
		name: "3.7 -r counts down, last plain, per message",
		cfg:  cfgEdit{rcpt: "rcpt@x", r: 3, rcptSet: true},
		seqs: []int64{0, 1},
		want: []string{
			"3rcpt@x", "2rcpt@x", "rcpt@x",
			"3rcpt@x", "2rcpt@x", "rcpt@x",
		},
	}, {
		name: "3.7 -N is a global counter from 1",
		cfg:  cfgEdit{rcpt: "foo@vm", r: 1, numbered: true},
		seqs: []int64{0, 1, 2},
		want: []string{"1foo@vm", "2foo@vm", "3foo@vm"},
	}, {
		name: "3.7 -N -r 2 numbers every recipient",
		cfg:  cfgEdit{rcpt: "foo@vm", r: 2, numbered: true},
		seqs: []int64{0, 1, 7},
		want: []string{
			"1foo@vm", "2foo@vm",
			"3foo@vm", "4foo@vm",
			"15foo@vm", "16foo@vm",
		},
	}, {
		name: "3.9 -r appends to the localpart from 0",
		cfg: cfgEdit{rcpt: "user+@example.com", r: 2, rcptSet: true,
			scheme: NumberingAppend},
		seqs: []int64{0, 1},
		want: []string{
			"user+0@example.com", "user+1@example.com",
			"user+2@example.com", "user+3@example.com",
		},
	}, {
		name: "3.9 -r 1 still numbers",
		cfg: cfgEdit{rcpt: "u@d", r: 1, rcptSet: true,
			scheme: NumberingAppend},
		seqs: []int64{0, 1, 1000},
		want: []string{"u0@d", "u1@d", "u1000@d"},
	}, {
		name: "3.9 -N splits at the last @",
		cfg: cfgEdit{rcpt: `"a@b"@c.example`, r: 1, numbered: true,
			scheme: NumberingAppend},
		seqs: []int64{3},
		want: []string{`"a@b"3@c.example`},
	}, {
		name: "3.9 without @ numbers the whole address",
		cfg: cfgEdit{rcpt: "postmaster", r: 2, numbered: true,
			scheme: NumberingAppend},
		seqs: []int64{2},
		want: []string{"postmaster4", "postmaster5"},
	}, {
		name: "3.9 without -N and -r is plain",
		cfg:  cfgEdit{rcpt: "u@d", r: 1, scheme: NumberingAppend},
		seqs: []int64{0, 9},
		want: []string{"u@d", "u@d"},
	}, {
		name: "3.9 with -r but RcptSet false is plain",
		cfg:  cfgEdit{rcpt: "u@d", r: 2, scheme: NumberingAppend},
		seqs: []int64{0},
		want: []string{"u@d", "u@d"},
	}}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Recipient, cfg.RcptCount = tc.cfg.rcpt, tc.cfg.r
			cfg.RcptSet, cfg.Numbered = tc.cfg.rcptSet, tc.cfg.numbered
			cfg.Numbering = tc.cfg.scheme
			g := mustNew(t, cfg)
			if g.RcptCount() != tc.cfg.r {
				t.Errorf("RcptCount() = %d, want %d",
					g.RcptCount(), tc.cfg.r)
			}

			var got []string
			for _, seq := range tc.seqs {
				for j := 0; j < g.RcptCount(); j++ {
					got = append(got,
						string(g.AppendRecipient(nil, seq, j)))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
		})
	}
}

// Numbered recipients must stay unique however the message sequence is
// split over sessions, since the number comes from seq alone.
func TestNumberedRecipientsUnique(t *testing.T) {
	for _, scheme := range []Numbering{NumberingPrepend, NumberingAppend} {
		cfg := baseConfig()
		cfg.RcptCount, cfg.RcptSet, cfg.Numbered = 3, true, true
		cfg.Numbering = scheme
		g := mustNew(t, cfg)

		seen := make(map[string]bool)
		for seq := int64(0); seq < 200; seq++ {
			for j := 0; j < 3; j++ {
				a := string(g.AppendRecipient(nil, seq, j))
				if seen[a] {
					t.Fatalf("%v: recipient %q repeats", scheme, a)
				}
				seen[a] = true
			}
		}
	}
}
