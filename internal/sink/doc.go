// Package sink is the server side of go-smtp-sink: an SMTP and LMTP
// test server that takes mail and throws it away, as fast as it can, with
// the replies, extension list, fault options and dump format of Postfix's
// smtp-sink(1).
//
// One goroutine serves one session. Replies are buffered and written only
// when the input runs dry, so a pipelined command group (RFC 2920) gets
// its replies in one write, which is what smtp-sink does. Message content
// is scanned for the end-of-data sequence CR LF . CR LF (RFC 5321 section
// 4.1.1.4) and thrown away unless a dump (-d, -D) was asked for; bare LF
// and bare CR never end the data, so the SMTP smuggling variants are kept
// as message content.
//
// Beyond smtp-sink the server offers, each only when configured, so that
// the default dialogue is byte for byte smtp-sink's:
//
//   - STARTTLS (RFC 3207) and implicit TLS (RFC 8314);
//   - SIZE (RFC 1870), CHUNKING with BDAT (RFC 3030) and SMTPUTF8
//     (RFC 6531);
//   - faults that hit a given percentage of a command's replies,
//     reproducible with a seed;
//   - real AUTH (RFC 4954) with PLAIN (RFC 4616), LOGIN and CRAM-MD5
//     (RFC 2195) against a list of users, where smtp-sink answers AUTH
//     with 250 and no exchange. The -v log never holds a secret.
package sink
