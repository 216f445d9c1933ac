/*
 * log.c - log lines and audit events, text or JSON, one event a line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#define LOG_LINE_MAX	2048

static const char *log_ident = "connect-sshd";
static enum log_level log_level = LOG_LVL_INFO;
static enum log_format log_format = LOG_FMT_TEXT;
static log_sink_fn log_sink;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void
log_init(const char *ident, enum log_level lvl, enum log_format fmt)
{
	log_ident = ident;
	log_level = lvl;
	log_format = fmt;
}

void
log_set_sink(log_sink_fn sink)
{
	log_sink = sink;
}

void
log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

enum log_format
log_get_format(void)
{
	return log_format;
}

const char *
log_level_name(enum log_level lvl)
{
	if ((unsigned)lvl > LOG_LVL_DEBUG)
		return "unknown";
	return level_names[lvl];
}

int
log_level_parse(const char *s, enum log_level *out)
{
	unsigned i;

	for (i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/*
 * The length of the well-formed UTF-8 sequence that starts at s (RFC 3629,
 * table 3-7 of Unicode): 1 to 4, or 0 when the byte at s starts none --
 * a continuation byte, an overlong form (C0, C1, E0 80-9F, F0 80-8F), a
 * surrogate (ED A0-BF), a code point above U+10FFFF (F4 90-BF, F5-FF), or
 * a sequence cut short.  Never reads past a NUL: a NUL is no continuation
 * byte, so the check stops there.
 */
size_t
utf8_char_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * A JSON string body that is always valid UTF-8, whatever the bytes: '"'
 * and '\' backslashed; the controls U+0000-U+001F, U+007F and U+0080-U+009F
 * (C1, which terminals obey as they do ESC) written \u00XX; every other
 * well-formed UTF-8 sequence copied as it is; and each byte that is not
 * part of a well-formed sequence written \u00XX too, so that an invalid
 * byte 0xXX reads as the character U+00XX.  Only whole characters and
 * whole escapes are written: when out is full the string ends before the
 * one that does not fit.
 */
void
json_escape(const char *str, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0, n;
	int esc;

	if (outsz == 0)
		return;
	for (; *s != '\0'; s += n) {
		n = utf8_char_len((const char *)s);
		if (n == 0) {
			n = 1;		/* a byte of no well-formed sequence */
			esc = s[0];
		} else if (n == 1 && (s[0] < 0x20 || s[0] == 0x7f))
			esc = s[0];
		else if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
			esc = s[1];	/* C2 80-9F: U+0080-U+009F */
		else
			esc = -1;
		if (esc >= 0) {
			if (o + 6 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[esc >> 4];
			out[o++] = hex[esc & 0xf];
		} else if (*s == '"' || *s == '\\') {
			if (o + 2 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = (char)*s;
		} else {
			if (o + n >= outsz)
				break;
			memcpy(out + o, s, n);
			o += n;
		}
	}
	out[o] = '\0';
}

/* Text values: printable ASCII kept; every other byte, '"' and '\' written
 * \xHH, so that the line stays ASCII and a hostile user name can forge
 * neither a second log line nor a field. */
static void
text_escape(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	unsigned char ch;

	if (outsz == 0)
		return;
	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 4 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 0xf];
		}
	}
	out[o] = '\0';
}

static void
timestamp(char *out, size_t outsz)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, outsz - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void
emit(enum log_level lvl, const char *line)
{
	size_t n;
	char *s;

	if (log_sink != NULL) {
		log_sink(lvl, line);
		return;
	}
	/* One write per line so lines from several processes do not mix. */
	n = strlen(line);
	if ((s = malloc(n + 2)) == NULL)
		return;
	memcpy(s, line, n);
	s[n] = '\n';
	if (write(STDERR_FILENO, s, n + 1) < 0) {
		/* nowhere left to report it */
	}
	free(s);
}

static void
format_line(enum log_level lvl, const char *fn, const char *msg, char *out,
    size_t outsz)
{
	char ts[40], emsg[LOG_LINE_MAX];

	timestamp(ts, sizeof(ts));
	if (log_format == LOG_FMT_JSON) {
		json_escape(msg, emsg, sizeof(emsg));
		snprintf(out, outsz, "{\"ts\":\"%s\",\"level\":\"%s\","
		    "\"proc\":\"%s\",\"msg\":\"%s%s%s\"}", ts,
		    log_level_name(lvl), log_ident, fn ? fn : "",
		    fn ? ": " : "", emsg);
	} else {
		text_escape(msg, emsg, sizeof(emsg));
		snprintf(out, outsz, "%s %s[%ld] %s: %s%s%s", ts, log_ident,
		    (long)getpid(), log_level_name(lvl), fn ? fn : "",
		    fn ? ": " : "", emsg);
	}
}

void
log_vmsg(enum log_level lvl, const char *fn, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX * 2];
	int saved = errno;

	if (lvl > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_sink != NULL) {
		/* The receiver formats; send the bare message. */
		snprintf(line, sizeof(line), "%s%s%s",
		    lvl == LOG_LVL_DEBUG && fn ? fn : "",
		    lvl == LOG_LVL_DEBUG && fn ? ": " : "", msg);
		log_sink(lvl, line);
	} else {
		/* Debug lines keep the function name; others read as prose. */
		format_line(lvl, lvl == LOG_LVL_DEBUG ? fn : NULL, msg, line,
		    sizeof(line));
		emit(lvl, line);
	}
	errno = saved;
}

void
log_msg(enum log_level lvl, const char *fn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fn, fmt, ap);
	va_end(ap);
}

void
log_raw(enum log_level lvl, const char *line)
{
	char out[LOG_LINE_MAX * 2];

	if (lvl > log_level)
		return;
	format_line(lvl, NULL, line, out, sizeof(out));
	emit(lvl, out);
}

void
log_fatal(const char *fn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fn, fmt, ap);
	va_end(ap);
	_exit(255);
}

static audit_hook_fn audit_hook;

void
audit_set_hook(audit_hook_fn fn)
{
	audit_hook = fn;
}

/* An audit record is written whole or not at all: its values are bounded
 * (LOG_LINE_MAX each, escaped), so this is room for far more fields than
 * any record has. */
#define AUDIT_LINE_MAX	(64 * 1024)

void
audit_event(const char *event, const struct audit_field *f, size_t n)
{
	char ts[40], val[LOG_LINE_MAX];
	struct buf b;
	size_t i;

	if (audit_hook != NULL)
		audit_hook(event, f, n);
	timestamp(ts, sizeof(ts));
	buf_init(&b, AUDIT_LINE_MAX);
	if (log_format == LOG_FMT_JSON)
		buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"info\",\"proc\":"
		    "\"%s\",\"event\":\"%s\"", ts, log_ident, event);
	else
		buf_printf(&b, "%s %s[%ld] audit: event=%s", ts, log_ident,
		    (long)getpid(), event);
	for (i = 0; i < n; i++) {
		if (f[i].str == NULL)
			snprintf(val, sizeof(val), "%lld", f[i].num);
		else if (log_format == LOG_FMT_JSON)
			json_escape(f[i].str, val, sizeof(val));
		else
			text_escape(f[i].str, val, sizeof(val));
		if (log_format == LOG_FMT_JSON)
			buf_printf(&b, f[i].str ? ",\"%s\":\"%s\"" :
			    ",\"%s\":%s", f[i].key, val);
		else
			buf_printf(&b, f[i].str && (strchr(val, ' ') || !*val) ?
			    " %s=\"%s\"" : " %s=%s", f[i].key, val);
	}
	if (log_format == LOG_FMT_JSON)
		buf_put(&b, "}", 1);
	buf_put(&b, "", 1);			/* a C string for emit() */
	if (buf_ok(&b) == 0)
		emit(LOG_LVL_INFO, (const char *)b.data);
	else
		log_msg(LOG_LVL_ERROR, NULL, "audit: %s record not written: "
		    "out of memory", event);
	buf_free(&b);
}
