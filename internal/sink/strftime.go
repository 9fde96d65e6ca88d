package sink

import (
	"strconv"
	"strings"
	"time"
)

// strftime expands a strftime(3) template the way glibc does in the C
// locale, which is what smtp-sink's -d and -D templates go through.
// Flags "-", "_" and "0" and the E and O modifiers are understood; an
// unknown conversion is copied as it stands, as glibc does.
func strftime(t time.Time, tmpl string) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 == len(tmpl) {
			b.WriteByte(c)
			continue
		}

		start := i
		i++
		pad := byte(0)
		for i < len(tmpl) && strings.IndexByte("-_0^#", tmpl[i]) >= 0 {
			pad = tmpl[i]
			i++
		}
		for i < len(tmpl) && (tmpl[i] == 'E' || tmpl[i] == 'O') {
			i++
		}
		if i == len(tmpl) {
			b.WriteString(tmpl[start:])
			break
		}
		if !conversion(&b, t, tmpl[i], pad) {
			b.WriteString(tmpl[start : i+1])
		}
	}
	return b.String()
}

// conversion writes one conversion and reports whether it knew it.
func conversion(b *strings.Builder, t time.Time, c, pad byte) bool {
	num := func(v, width int, fill byte) {
		writeNum(b, v, width, fill, pad)
	}
	switch c {
	case 'a':
		b.WriteString(t.Weekday().String()[:3])
	case 'A':
		b.WriteString(t.Weekday().String())
	case 'b', 'h':
		b.WriteString(t.Month().String()[:3])
	case 'B':
		b.WriteString(t.Month().String())
	case 'c':
		b.WriteString(strftime(t, "%a %b %e %H:%M:%S %Y"))
	case 'C':
		num(t.Year()/100, 2, '0')
	case 'd':
		num(t.Day(), 2, '0')
	case 'D', 'x':
		b.WriteString(strftime(t, "%m/%d/%y"))
	case 'e':
		num(t.Day(), 2, ' ')
	case 'F':
		b.WriteString(strftime(t, "%Y-%m-%d"))
	case 'G':
		y, _ := t.ISOWeek()
		num(y, 1, '0')
	case 'g':
		y, _ := t.ISOWeek()
		num(y%100, 2, '0')
	case 'H':
		num(t.Hour(), 2, '0')
	case 'I':
		num(hour12(t), 2, '0')
	case 'j':
		num(t.YearDay(), 3, '0')
	case 'k':
		num(t.Hour(), 2, ' ')
	case 'l':
		num(hour12(t), 2, ' ')
	case 'm':
		num(int(t.Month()), 2, '0')
	case 'M':
		num(t.Minute(), 2, '0')
	case 'n':
		b.WriteByte('\n')
	case 'p':
		b.WriteString(ampm(t))
	case 'P':
		b.WriteString(strings.ToLower(ampm(t)))
	case 'r':
		b.WriteString(strftime(t, "%I:%M:%S %p"))
	case 'R':
		b.WriteString(strftime(t, "%H:%M"))
	case 's':
		b.WriteString(strconv.FormatInt(t.Unix(), 10))
	case 'S':
		num(t.Second(), 2, '0')
	case 't':
		b.WriteByte('\t')
	case 'T', 'X':
		b.WriteString(strftime(t, "%H:%M:%S"))
	case 'u':
		num((int(t.Weekday())+6)%7+1, 1, '0')
	case 'U':
		num((t.YearDay()+6-int(t.Weekday()))/7, 2, '0')
	case 'V':
		_, w := t.ISOWeek()
		num(w, 2, '0')
	case 'w':
		num(int(t.Weekday()), 1, '0')
	case 'W':
		num((t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2, '0')
	case 'y':
		num(t.Year()%100, 2, '0')
	case 'Y':
		num(t.Year(), 1, '0')
	case 'z':
		b.WriteString(t.Format("-0700"))
	case 'Z':
		name, _ := t.Zone()
		b.WriteString(name)
	case '%':
		b.WriteByte('%')
	default:
		return false
	}
	return true
}

// writeNum writes v at least width wide, filled with fill unless the
// flag pad asks for none ('-'), spaces ('_') or zeros ('0').
func writeNum(b *strings.Builder, v, width int, fill, pad byte) {
	switch pad {
	case '-':
		width = 1
	case '_':
		fill = ' '
	case '0':
		fill = '0'
	}
	s := strconv.Itoa(v)
	for n := len(s); n < width; n++ {
		b.WriteByte(fill)
	}
	b.WriteString(s)
}

func hour12(t time.Time) int {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return h
}

func ampm(t time.Time) string {
	if t.Hour() < 12 {
		return "AM"
	}
	return "PM"
}

// mailDate formats t as Postfix's mail_date(3) does for the Received:
// header: "Thu,  3 Dec 2026 15:36:12 +0000 (UTC)". Like Postfix it
// divides the offset in minutes, so -00:30 prints as "+0030"
// (with the sign of the hours, which are zero).
func mailDate(t time.Time) string {
	_, off := t.Zone()
	mins := off / 60
	abs := mins % 60
	if abs < 0 {
		abs = -abs
	}
	name, _ := t.Zone()
	return strftime(t, "%a, %e %b %Y %H:%M:%S ") +
		sprintfOffset(mins/60, abs) + " (" + name + ")"
}

// sprintfOffset is C's "%+03d%02d".
func sprintfOffset(hours, mins int) string {
	sign := byte('+')
	if hours < 0 {
		sign = '-'
		hours = -hours
	}
	var b strings.Builder
	b.WriteByte(sign)
	writeNum(&b, hours, 2, '0', 0)
	writeNum(&b, mins, 2, '0', 0)
	return b.String()
}

// Unescape undoes the C escapes of smtp-sink's -S option: \a \b \f \n
// \r \t \v, \ddd (one to three octal digits) and \\; any other escaped
// character stands for itself. Like smtp-sink, which prints the result
// as a C string, the text ends at the first NUL.
func Unescape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			if i == len(s) {
				break
			}
			c = unescapeOne(s, &i)
		}
		b = append(b, c)
	}
	if n := strings.IndexByte(string(b), 0); n >= 0 {
		b = b[:n]
	}
	return string(b)
}

// unescapeOne decodes the escape whose letter is s[*i], leaving *i on
// its last character.
func unescapeOne(s string, i *int) byte {
	c := s[*i]
	switch c {
	case 'a':
		return '\a'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	if c < '0' || c > '7' {
		return c
	}
	v := int(c - '0')
	for k := 0; k < 2 && *i+1 < len(s); k++ {
		d := s[*i+1]
		if d < '0' || d > '7' {
			break
		}
		v = v<<3 | int(d-'0')
		*i++
	}
	return byte(v)
}
