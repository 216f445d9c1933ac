/*
 * test_log.c - the log's escaping: a JSON line is valid UTF-8 and valid
 * JSON whatever bytes a client sent (an invalid byte 0xXX written \u00XX,
 * well-formed UTF-8 kept, never a character cut in two when the buffer is
 * full), and a text line is printable ASCII with \xHH escapes.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "log.h"
#include "runner.h"

/* ---- independent checkers ---- */

/* Valid UTF-8 (RFC 3629), decoded the long way round: the code point of
 * each sequence, then its range.  1 valid, 0 not. */
static int
utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned long cp, min;
	size_t n, i;

	while (*s != '\0') {
		if (s[0] < 0x80) {
			s++;
			continue;
		}
		if ((s[0] & 0xe0) == 0xc0) {
			n = 2;
			cp = s[0] & 0x1f;
			min = 0x80;
		} else if ((s[0] & 0xf0) == 0xe0) {
			n = 3;
			cp = s[0] & 0x0f;
			min = 0x800;
		} else if ((s[0] & 0xf8) == 0xf0) {
			n = 4;
			cp = s[0] & 0x07;
			min = 0x10000;
		} else
			return 0;
		for (i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		s += n;
	}
	return 1;
}

static int
is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

/* A JSON string body (RFC 8259, section 7) from *pp up to the closing
 * quote, or to the end when end_quote is 0; 1 valid, 0 not. */
static int
json_string_body(const char **pp, int end_quote)
{
	const char *p = *pp;

	for (;;) {
		if (*p == '\0') {
			*pp = p;
			return !end_quote;
		}
		if (*p == '"') {
			*pp = p + 1;
			return end_quote;
		}
		if ((unsigned char)*p < 0x20)
			return 0;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				if (!is_hex(p[1]) || !is_hex(p[2]) ||
				    !is_hex(p[3]) || !is_hex(p[4]))
					return 0;
				p += 5;
				continue;
			}
			if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL)
				return 0;
		}
		p++;
	}
}

static int
json_body_ok(const char *s)
{
	return json_string_body(&s, 0) && utf8_valid(s);
}

/* One log line: a flat JSON object of strings and integers, valid UTF-8. */
static int
json_line_ok(const char *p)
{
	const char *line = p;

	if (*p++ != '{')
		return 0;
	for (;;) {
		if (*p++ != '"' || !json_string_body(&p, 1) || *p++ != ':')
			return 0;
		if (*p == '"') {
			p++;
			if (!json_string_body(&p, 1))
				return 0;
		} else {
			if (*p == '-')
				p++;
			if (*p < '0' || *p > '9')
				return 0;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == '}')
			return p[1] == '\0' && utf8_valid(line);
		if (*p++ != ',')
			return 0;
	}
}

/* ---- json_escape, byte by byte ---- */

static void
check_json(const char *in, const char *want)
{
	char out[256];

	json_escape(in, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_TRUE(json_body_ok(out));
	if (strcmp(out, want) != 0)
		printf("\n  json_escape: got \"%s\", want \"%s\"\n", out, want);
}

static void
test_json_invalid_bytes(void)
{
	/* a lone continuation byte */
	check_json("\x80", "\\u0080");
	check_json("a\x80z", "a\\u0080z");
	/* overlong forms: C0 80 (NUL), C1 BF, E0 9F BF, F0 8F BF BF */
	check_json("\xc0\x80", "\\u00c0\\u0080");
	check_json("\xc1\xbf", "\\u00c1\\u00bf");
	check_json("\xe0\x9f\xbf", "\\u00e0\\u009f\\u00bf");
	check_json("\xf0\x8f\xbf\xbf", "\\u00f0\\u008f\\u00bf\\u00bf");
	/* a surrogate, U+D800 */
	check_json("\xed\xa0\x80", "\\u00ed\\u00a0\\u0080");
	check_json("\xed\xbf\xbf", "\\u00ed\\u00bf\\u00bf");
	/* above U+10FFFF: F4 90 80 80 is U+110000; F5-FF start nothing */
	check_json("\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080");
	check_json("\xf5\x80\x80\x80", "\\u00f5\\u0080\\u0080\\u0080");
	check_json("\xfe\xff", "\\u00fe\\u00ff");
	/* truncated sequences: at the end, and followed by ASCII */
	check_json("\xe2\x82", "\\u00e2\\u0082");
	check_json("\xe2\x82x", "\\u00e2\\u0082x");
	check_json("\xf0\x9f\x98", "\\u00f0\\u009f\\u0098");
	check_json("\xc3", "\\u00c3");
	/* a truncated sequence right before a valid one keeps the valid one */
	check_json("\xe2\xe2\x9c\x93", "\\u00e2\xe2\x9c\x93");
	/* Latin-1 text, as an old client might send it */
	check_json("Jos\xe9", "Jos\\u00e9");
}

static void
test_json_valid_utf8(void)
{
	check_json("Jos\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
	    "Jos\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
	/* the edges of every range */
	check_json("\xc2\xa0", "\xc2\xa0");			/* U+00A0 */
	check_json("\xdf\xbf", "\xdf\xbf");			/* U+07FF */
	check_json("\xe0\xa0\x80", "\xe0\xa0\x80");		/* U+0800 */
	check_json("\xed\x9f\xbf", "\xed\x9f\xbf");		/* U+D7FF */
	check_json("\xee\x80\x80", "\xee\x80\x80");		/* U+E000 */
	check_json("\xef\xbf\xbf", "\xef\xbf\xbf");		/* U+FFFF */
	check_json("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");	/* U+10000 */
	check_json("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");	/* U+10FFFF */
}

static void
test_json_controls_quotes(void)
{
	check_json("\x01\t\n\r\x1b[31m\x1f\x7f",
	    "\\u0001\\u0009\\u000a\\u000d\\u001b[31m\\u001f\\u007f");
	/* C1 controls in UTF-8 (U+009B is CSI to a terminal) */
	check_json("\xc2\x80\xc2\x85\xc2\x9b" "1m\xc2\x9f",
	    "\\u0080\\u0085\\u009b1m\\u009f");
	check_json("a\"b\\c", "a\\\"b\\\\c");
	check_json("\"\\\"", "\\\"\\\\\\\"");
	check_json("", "");
	check_json("plain ASCII ~ {}[]:,", "plain ASCII ~ {}[]:,");
}

/* Every output size: the result is a prefix of the whole escape that ends
 * between two characters or escapes, valid UTF-8 and valid JSON. */
static void
check_every_size(const char *in)
{
	char whole[512], out[512];
	size_t sz, len;

	json_escape(in, whole, sizeof(whole));
	for (sz = 1; sz <= strlen(whole) + 1; sz++) {
		memset(out, 'Z', sizeof(out));
		json_escape(in, out, sz);
		len = strlen(out);
		CU_ASSERT_TRUE(len < sz);
		CU_ASSERT_EQUAL(out[sz], 'Z');	/* nothing past out[sz - 1] */
		CU_ASSERT_EQUAL(memcmp(out, whole, len), 0);
		CU_ASSERT_TRUE(json_body_ok(out));
		if (!json_body_ok(out))
			printf("\n  size %zu: \"%s\" is not valid\n", sz, out);
	}
	CU_ASSERT_STRING_EQUAL(out, whole);
}

static void
test_json_full_buffer(void)
{
	char out[16];

	/* "ab" then a 4-byte character: it fits whole or not at all */
	json_escape("ab\xf0\x9f\x98\x80", out, 6);
	CU_ASSERT_STRING_EQUAL(out, "ab");
	json_escape("ab\xf0\x9f\x98\x80", out, 5);
	CU_ASSERT_STRING_EQUAL(out, "ab");
	json_escape("ab\xf0\x9f\x98\x80", out, 4);
	CU_ASSERT_STRING_EQUAL(out, "ab");
	json_escape("ab\xf0\x9f\x98\x80", out, 7);
	CU_ASSERT_STRING_EQUAL(out, "ab\xf0\x9f\x98\x80");
	/* a 2- and a 3-byte one */
	json_escape("x\xc3\xa9", out, 3);
	CU_ASSERT_STRING_EQUAL(out, "x");
	json_escape("x\xe2\x9c\x93", out, 4);
	CU_ASSERT_STRING_EQUAL(out, "x");
	json_escape("x\xe2\x9c\x93", out, 5);
	CU_ASSERT_STRING_EQUAL(out, "x\xe2\x9c\x93");
	/* an escape is never cut either */
	json_escape("x\x80", out, 7);
	CU_ASSERT_STRING_EQUAL(out, "x");
	json_escape("x\x80", out, 8);
	CU_ASSERT_STRING_EQUAL(out, "x\\u0080");
	json_escape("x\"", out, 3);
	CU_ASSERT_STRING_EQUAL(out, "x");
	json_escape("anything", out, 1);
	CU_ASSERT_STRING_EQUAL(out, "");

	check_every_size("Jos\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe2\x82"
	    "\x80\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\"\\\x1b\xc2\x9b\n"
	    "\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf");
}

/* utf8_char_len, which connect-sshctl's escaping uses too. */
static void
test_utf8_char_len(void)
{
	CU_ASSERT_EQUAL(utf8_char_len("a"), 1);
	CU_ASSERT_EQUAL(utf8_char_len("\x1b"), 1);
	CU_ASSERT_EQUAL(utf8_char_len("\xc3\xa9"), 2);
	CU_ASSERT_EQUAL(utf8_char_len("\xc2\x9b"), 2);
	CU_ASSERT_EQUAL(utf8_char_len("\xe2\x9c\x93"), 3);
	CU_ASSERT_EQUAL(utf8_char_len("\xf0\x9f\x98\x80"), 4);
	CU_ASSERT_EQUAL(utf8_char_len("\xf4\x8f\xbf\xbf"), 4);
	CU_ASSERT_EQUAL(utf8_char_len("\x80"), 0);
	CU_ASSERT_EQUAL(utf8_char_len("\xc0\x80"), 0);
	CU_ASSERT_EQUAL(utf8_char_len("\xe0\x9f\xbf"), 0);
	CU_ASSERT_EQUAL(utf8_char_len("\xed\xa0\x80"), 0);
	CU_ASSERT_EQUAL(utf8_char_len("\xf4\x90\x80\x80"), 0);
	CU_ASSERT_EQUAL(utf8_char_len("\xf8\x88\x80\x80\x80"), 0);
	/* cut short by the end of the string, or by another byte */
	CU_ASSERT_EQUAL(utf8_char_len("\xe2\x82"), 0);
	CU_ASSERT_EQUAL(utf8_char_len("\xf0\x9f\x98"), 0);
	CU_ASSERT_EQUAL(utf8_char_len("\xf0\x9f\x98z"), 0);
}

/* ---- whole lines, through a sink ---- */

static char captured[70000];

static void
capture(enum log_level lvl, const char *line)
{
	(void)lvl;
	snprintf(captured, sizeof(captured), "%s", line);
}

/* Bytes a client might send, every kind at once. */
#define HOSTILE "Jos\xc3\xa9 \xe2\x9c\x93\xf0\x9f\x98\x80\x80\xc0\x80" \
	"\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82\x1b[31m\r\n\"x\\\xc2\x9b"

static void
test_json_lines(void)
{
	log_init("test", LOG_LVL_INFO, LOG_FMT_JSON);
	log_set_sink(capture);

	captured[0] = '\0';
	AUDIT("auth.denied", AF_N("conn", 7), AF_S("user", HOSTILE),
	    AF_S("session", ""), AF_N("workspace", -1),
	    AF_S("reason", "bad-username"));
	CU_ASSERT_TRUE(json_line_ok(captured));
	CU_ASSERT_PTR_NOT_NULL(strstr(captured, ",\"conn\":7,\"user\":\""
	    "Jos\xc3\xa9 \xe2\x9c\x93\xf0\x9f\x98\x80\\u0080\\u00c0\\u0080"
	    "\\u00ed\\u00a0\\u0080\\u00f4\\u0090\\u0080\\u0080\\u00e2\\u0082"
	    "\\u001b[31m\\u000d\\u000a\\\"x\\\\\\u009b\",\"session\":\"\","
	    "\"workspace\":-1,\"reason\":\"bad-username\"}"));
	if (!json_line_ok(captured))
		printf("\n  not a valid JSON line: %s\n", captured);

	/* a log line, as a worker's line is relayed */
	captured[0] = '\0';
	log_raw(LOG_LVL_INFO, "worker 12 conn 3: banner " HOSTILE);
	CU_ASSERT_TRUE(json_line_ok(captured));
	CU_ASSERT_PTR_NOT_NULL(strstr(captured, "\"msg\":\"worker 12 conn 3: "
	    "banner Jos\xc3\xa9"));

	log_set_sink(NULL);
}

/* The text format stays printable ASCII: every other byte, '"' and '\'
 * as \xHH, a value with a space in double quotes. */
static void
test_text_lines(void)
{
	const char *p;

	log_init("test", LOG_LVL_INFO, LOG_FMT_TEXT);
	log_set_sink(capture);

	captured[0] = '\0';
	AUDIT("auth.denied", AF_N("conn", 7), AF_S("user", HOSTILE),
	    AF_S("session", ""), AF_S("reason", "bad-username"));
	for (p = captured; *p != '\0'; p++)
		CU_ASSERT_TRUE(*p >= 0x20 && *p < 0x7f);
	CU_ASSERT_PTR_NOT_NULL(strstr(captured, " audit: event=auth.denied "
	    "conn=7 user=\"Jos\\xc3\\xa9 \\xe2\\x9c\\x93\\xf0\\x9f\\x98\\x80"
	    "\\x80\\xc0\\x80\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\\xe2\\x82"
	    "\\x1b[31m\\x0d\\x0a\\x22x\\x5c\\xc2\\x9b\" session=\"\" "
	    "reason=bad-username"));
	if (strstr(captured, "reason=bad-username") == NULL)
		printf("\n  %s\n", captured);

	captured[0] = '\0';
	log_raw(LOG_LVL_INFO, "banner " HOSTILE);
	for (p = captured; *p != '\0'; p++)
		CU_ASSERT_TRUE(*p >= 0x20 && *p < 0x7f);
	CU_ASSERT_PTR_NOT_NULL(strstr(captured, " info: banner Jos\\xc3\\xa9 "));

	log_set_sink(NULL);
}

/* The checkers themselves: they must refuse what they are for. */
static void
test_checkers(void)
{
	CU_ASSERT_TRUE(utf8_valid("Jos\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"));
	CU_ASSERT_FALSE(utf8_valid("\x80"));
	CU_ASSERT_FALSE(utf8_valid("\xc0\x80"));
	CU_ASSERT_FALSE(utf8_valid("\xed\xa0\x80"));
	CU_ASSERT_FALSE(utf8_valid("\xf4\x90\x80\x80"));
	CU_ASSERT_FALSE(utf8_valid("\xe2\x82"));
	CU_ASSERT_TRUE(json_body_ok("a\\\"\\\\\\u00e9\\n"));
	CU_ASSERT_FALSE(json_body_ok("a\"b"));
	CU_ASSERT_FALSE(json_body_ok("a\\"));
	CU_ASSERT_FALSE(json_body_ok("a\\u00"));
	CU_ASSERT_FALSE(json_body_ok("a\nb"));
	CU_ASSERT_TRUE(json_line_ok("{\"a\":\"b\",\"n\":-1}"));
	CU_ASSERT_FALSE(json_line_ok("{\"a\":\"b\"}x"));
	CU_ASSERT_FALSE(json_line_ok("{\"a\":\"\x80\"}"));
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "the checkers refuse what they should", test_checkers },
		{ "JSON: invalid UTF-8 bytes as \\u00XX", test_json_invalid_bytes },
		{ "JSON: well-formed UTF-8 kept", test_json_valid_utf8 },
		{ "JSON: controls, quotes, backslashes",
		    test_json_controls_quotes },
		{ "JSON: a full buffer cuts no character in two",
		    test_json_full_buffer },
		{ "utf8_char_len", test_utf8_char_len },
		{ "JSON: audit and log lines are valid JSON and UTF-8",
		    test_json_lines },
		{ "text: lines stay printable ASCII", test_text_lines },
		UNIT_END,
	};

	return unit_run(argc, argv, "log", tests);
}
