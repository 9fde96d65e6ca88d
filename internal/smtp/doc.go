// Package smtp is the client side of one SMTP or LMTP session, written for
// load generation: commands are batched into one write, replies are read
// through a buffered reader into reused buffers, and every step reports
// its duration to an Observer so that timing costs nothing when nobody
// listens.
//
// It speaks RFC 5321 (SMTP), RFC 2033 (LMTP) and RFC 3207 (STARTTLS). Reply
// parsing follows Postfix smtp-source: a reply line starts with exactly
// three digits, a '-' after them means more lines follow, the code of the
// last line decides, and the texts of all lines are joined with '\n'.
package smtp
