package smtp

// Extensions are the service extensions of the last EHLO or LHLO reply
// that the client can use.
type Extensions struct {
	Pipelining   bool // PIPELINING (RFC 2920)
	Chunking     bool // CHUNKING: BDAT (RFC 3030)
	EightBitMIME bool // 8BITMIME: BODY=8BITMIME (RFC 6152)
	SMTPUTF8     bool // SMTPUTF8 (RFC 6531)
	Size         bool // SIZE: the SIZE= parameter of MAIL (RFC 1870)
}

// Extensions returns what the last EHLO or LHLO reply advertised; after
// HELO, nothing. It does not allocate.
func (c *Conn) Extensions() Extensions {
	var e Extensions
	_, e.Pipelining = c.ext["PIPELINING"]
	_, e.Chunking = c.ext["CHUNKING"]
	_, e.EightBitMIME = c.ext["8BITMIME"]
	_, e.SMTPUTF8 = c.ext["SMTPUTF8"]
	_, e.Size = c.ext["SIZE"]
	return e
}

// MailWith sends MAIL FROM:<sender> followed by params, which is empty
// or starts with a space (" SIZE=1234 BODY=8BITMIME").
func (c *Conn) MailWith(sender, params []byte) (Reply, error) {
	c.wbuf = append(append(c.wbuf[:0], "MAIL FROM:<"...), sender...)
	c.wbuf = append(append(c.wbuf, '>'), params...)
	return c.cmd(PhaseMail)
}
