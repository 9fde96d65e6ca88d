// Package smtp is the client side of one SMTP or LMTP session, written for
// load generation: commands are batched into one write, replies are read
// through a buffered reader into reused buffers, and every step reports
// its duration to an Observer so that timing costs nothing when nobody
// listens.
//
// It speaks RFC 5321 (SMTP), RFC 2033 (LMTP), RFC 3207 (STARTTLS), RFC
// 8314 (implicit TLS) and RFC 4954 (AUTH, with PLAIN, LOGIN, CRAM-MD5
// and XOAUTH2), RFC 2920 (PIPELINING) and RFC 3030 (CHUNKING) through
// Pipeline, and the MAIL parameters of RFC 1870 (SIZE), RFC 6152
// (8BITMIME) and RFC 6531 (SMTPUTF8). Reply parsing follows Postfix
// smtp-source: a reply line starts with exactly three digits, a '-'
// after them means more lines follow, the code of the last line decides,
// and the texts of all lines are joined with '\n'.
package smtp
