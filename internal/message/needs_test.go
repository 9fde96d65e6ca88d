package message

import "testing"

func TestNeeds(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want Needs
	}{
		{"ASCII", func(*Config) {}, 0},
		{"UTF-8 subject", func(c *Config) {
			c.Subject, c.HasSubject = "Grüße", true
		}, Need8BitMIME | NeedSMTPUTF8},
		{"UTF-8 recipient", func(c *Config) {
			c.Recipient = "josé@example.com"
		}, Need8BitMIME | NeedSMTPUTF8},
		{"UTF-8 sender, no headers (-o)", func(c *Config) {
			c.Sender, c.OldMode = "jürgen@example.com", true
		}, NeedSMTPUTF8},
		{"8-bit file body", func(c *Config) {
			c.File, c.HasFile = []byte("Subject: x\n\ncaf\xc3\xa9\n"), true
		}, Need8BitMIME},
		{"UTF-8 file header", func(c *Config) {
			c.File, c.HasFile = []byte("Subject: caf\xc3\xa9\n\nx\n"), true
		}, Need8BitMIME | NeedSMTPUTF8},
		{"Latin-1 file header", func(c *Config) {
			c.File, c.HasFile = []byte("Subject: caf\xe9\n\nx\n"), true
		}, Need8BitMIME},
		{"file without header section", func(c *Config) {
			c.File, c.HasFile = []byte("\ncaf\xc3\xa9\n"), true
		}, Need8BitMIME},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.edit(&cfg)
			if got := mustNew(t, cfg).Needs(5); got != tc.want {
				t.Errorf("Needs = %b, want %b", got, tc.want)
			}
		})
	}
}

// Each --eml file has its own needs.
func TestNeedsPerEMLFile(t *testing.T) {
	cfg := baseConfig()
	cfg.EML = [][]byte{
		[]byte("Subject: a\n\nascii\n"),
		[]byte("Subject: \xc3\xa9\n\nx\n"),
	}
	g := mustNew(t, cfg)
	if g.Needs(0) != 0 || g.Needs(1) != Need8BitMIME|NeedSMTPUTF8 ||
		g.Needs(2) != 0 {
		t.Errorf("needs %b %b %b, want 0 11 0", g.Needs(0), g.Needs(1),
			g.Needs(2))
	}
}

func TestUnstuff(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"..\r\n", ".\r\n"},
		{"..a\r\nb.c\r\n...d\r\n", ".a\r\nb.c\r\n..d\r\n"},
		// smtp-source's bytes (--postfix-file-bytes): CR stays in lines.
		{"x\r\r\n..y\r\r\n\r\n", "x\r\r\n.y\r\r\n\r\n"},
	}
	for _, tc := range cases {
		if got := string(unstuff([]byte(tc.in))); got != tc.want {
			t.Errorf("unstuff(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Stuffing a file and undoing it gives the file with CRLF line ends.
func TestRawBodyOfFile(t *testing.T) {
	cfg := baseConfig()
	cfg.File, cfg.HasFile = []byte(".\n..\nx.\n.y"), true
	g := mustNew(t, cfg)
	if got, want := string(g.RawBody(0)), ".\r\n..\r\nx.\r\n.y\r\n"; got !=
		want {
		t.Errorf("RawBody = %q, want %q", got, want)
	}
	if got, want := string(g.Body(0)), "..\r\n...\r\nx.\r\n..y\r\n"; got !=
		want {
		t.Errorf("Body = %q, want %q", got, want)
	}
}
