/*
 * log.h - logging for both processes.
 *
 * The monitor writes log lines and audit events to stderr, one event a line,
 * as text ("key=value" pairs) or JSON.  A worker never writes to a file
 * descriptor of its own: its log sink forwards each line to the monitor over
 * IPC (see worker/mm.c), and the monitor prefixes it with the worker's pid.
 */
#ifndef CSSHD_LOG_H
#define CSSHD_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

enum log_format {
	LOG_FMT_TEXT = 0,
	LOG_FMT_JSON,
};

/* Where a process's log lines go; the default writes to stderr. */
typedef void (*log_sink_fn)(enum log_level lvl, const char *line);

void log_init(const char *ident, enum log_level lvl, enum log_format fmt);
void log_set_sink(log_sink_fn sink);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
enum log_format log_get_format(void);
const char *log_level_name(enum log_level lvl);
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level lvl, const char *fn, const char *fmt, va_list ap);
/* A line that already carries its own prefix (a worker's, relayed). */
void log_raw(enum log_level lvl, const char *line);

#define error(...) log_msg(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define warnx_(...) log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define logit(...) log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define debug(...) log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__)
#define fatal(...) log_fatal(__func__, __VA_ARGS__)

void log_fatal(const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/*
 * Structured records: audit events.  An event is a name and a list of
 * key/value fields; it is rendered as one text or JSON line.  Values are
 * escaped; keys are fixed identifiers from the code.
 */
struct audit_field {
	const char *key;
	const char *str;	/* string value, or NULL for a number */
	long long num;
};

static inline const char *
audit_str(const char *s)
{
	return s != NULL ? s : "";
}

#define AF_S(k, v) ((struct audit_field){ (k), audit_str(v), 0 })
#define AF_N(k, v) ((struct audit_field){ (k), NULL, (long long)(v) })

void audit_event(const char *event, const struct audit_field *f, size_t n);
/* Called with every audit record before it is written (the monitor's
 * metrics count them). */
typedef void (*audit_hook_fn)(const char *event, const struct audit_field *f,
    size_t n);
void audit_set_hook(audit_hook_fn fn);
#define AUDIT(ev, ...) do { \
	const struct audit_field audit_f_[] = { __VA_ARGS__ }; \
	audit_event((ev), audit_f_, sizeof(audit_f_) / sizeof(audit_f_[0])); \
} while (0)

/* The length of the well-formed UTF-8 character at s (RFC 3629): 1 to 4,
 * or 0 when the byte at s starts none.  Reads no further than a NUL. */
size_t utf8_char_len(const char *s);

/* Escape s into out for a JSON string body, valid UTF-8 whatever s holds
 * (an invalid byte 0xXX becomes \u00XX, read as U+00XX); never cuts a
 * character or an escape in two; always NUL-terminates. */
void json_escape(const char *s, char *out, size_t outsz);

#endif
