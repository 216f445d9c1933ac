/*
 * config_algorithms.c - the algorithms group: the key exchanges, ciphers
 * and MACs the gateway offers, to clients and to Studios.
 *
 * Only names from the safe sets below are accepted; the defaults are
 * those sets but for the key exchanges and MACs, as the comments say.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"

static const char *const algorithms_names[] = {
	"kex", "ciphers", "macs", NULL,
};

/*
 * What the gateway will offer, the safe sets: no SHA-1, no CBC.  The
 * defaults are the sets themselves, in this order, but for the key
 * exchanges and the MACs (below).  libssh always adds the strict key
 * exchange extension (Terrapin countermeasure).
 *
 * Key exchange: the hybrid post-quantum ones first, so that a recorded
 * session cannot be decrypted later by whoever gets a quantum computer
 * (OpenSSH 9.0 to 9.9 prefer sntrup761x25519, 9.9 and later
 * mlkem768x25519, and 10.1 and later warn on every connection without
 * one).  mlkem768nistp256-sha256 is safe but not a default: no OpenSSH
 * offers it, it only exists for FIPS-bound peers, and mlkem768x25519
 * covers the same need with the better classical half; an operator who
 * needs it lists it.
 */
static const char *const safe_kex[] = {
	"mlkem768x25519-sha256", "sntrup761x25519-sha512",
	"sntrup761x25519-sha512@openssh.com", "mlkem768nistp256-sha256",
	"curve25519-sha256", "curve25519-sha256@libssh.org",
	"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
	"diffie-hellman-group18-sha512", "diffie-hellman-group16-sha512",
	NULL,
};

static const char *const default_kex[] = {
	"mlkem768x25519-sha256", "sntrup761x25519-sha512",
	"sntrup761x25519-sha512@openssh.com",
	"curve25519-sha256", "curve25519-sha256@libssh.org",
	"diffie-hellman-group18-sha512", "diffie-hellman-group16-sha512",
	NULL,
};

static const char *const safe_ciphers[] = {
	"aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com", "aes256-ctr", "aes192-ctr",
	"aes128-ctr", NULL,
};

/*
 * The encrypt-and-MAC hmac-sha2-256/-512 are allowed for clients that have
 * neither an ETM MAC nor an AEAD cipher (libssh2 1.10: Debian 12's curl,
 * PHP ssh2, libgit2), but not offered by default: CTR ciphers then pair
 * only with the ETM MACs (connect-sshd.conf(5) says why).
 */
static const char *const safe_macs[] = {
	"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
	"hmac-sha2-256", "hmac-sha2-512",
	NULL,
};

static const char *const default_macs[] = {
	"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
	NULL,
};

static int
in_set(const char *const *set, const char *v)
{
	for (; *set != NULL; set++)
		if (strcmp(*set, v) == 0)
			return 0;
	return -1;
}

static int valid_kex(const char *v) { return in_set(safe_kex, v); }
static int valid_cipher(const char *v) { return in_set(safe_ciphers, v); }
static int valid_mac(const char *v) { return in_set(safe_macs, v); }

static void
copy_list(struct loader *l, const char *const *set, char ***out, size_t *n)
{
	size_t i;

	for (*n = 0; set[*n] != NULL; (*n)++)
		continue;
	if ((*out = lcalloc(l, *n, sizeof(**out))) == NULL)
		return;
	for (i = 0; i < *n; i++)
		(*out)[i] = lstrdup(l, set[i]);
}

/* One algorithm list: absent keeps the default; present must be
 * non-empty, safe names only, no repeats. */
static void
load_algorithm_list(struct loader *l, const config_setting_t *g,
    const char *name, const char *const *set, int (*valid)(const char *),
    char ***out, size_t *n)
{
	const config_setting_t *s;
	char what[WHAT_MAX], rule[512];
	const char *const *p;
	size_t i, j;

	if (g == NULL || (s = config_setting_get_member(g, name)) == NULL)
		return;
	snprintf(what, sizeof(what), "algorithms.%s", name);
	snprintf(rule, sizeof(rule), "use some of");
	for (p = set; *p != NULL; p++)
		snprintf(rule + strlen(rule), sizeof(rule) - strlen(rule),
		    "%s %s", p == set ? "" : ",", *p);
	free_strings(*out, *n);
	*out = NULL;
	*n = 0;
	if (get_string_array(l, s, what, valid, rule, out, n) != 0)
		return;
	if (*n == 0) {
		serr(l, s, "%s is empty: list at least one algorithm", what);
		return;
	}
	for (i = 0; i < *n; i++)
		for (j = 0; j < i; j++)
			if (strcmp((*out)[i], (*out)[j]) == 0) {
				serr(l, s, "%s lists %s twice", what,
				    (*out)[i]);
				return;
			}
}

void
load_algorithms(struct loader *l, const config_setting_t *root)
{
	struct cfg_algorithms *a = &l->cfg->algorithms;
	const config_setting_t *g;

	copy_list(l, default_kex, &a->kex, &a->nkex);
	copy_list(l, safe_ciphers, &a->ciphers, &a->nciphers);
	copy_list(l, default_macs, &a->macs, &a->nmacs);
	if ((g = root_group(l, root, "algorithms")) != NULL)
		check_names(l, g, algorithms_names, "algorithms");
	load_algorithm_list(l, g, "kex", safe_kex, valid_kex, &a->kex,
	    &a->nkex);
	load_algorithm_list(l, g, "ciphers", safe_ciphers, valid_cipher,
	    &a->ciphers, &a->nciphers);
	load_algorithm_list(l, g, "macs", safe_macs, valid_mac, &a->macs,
	    &a->nmacs);
}

int
config_join(char *const *v, size_t n, char *buf, size_t bufsz)
{
	size_t i, len = 0, vl;

	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		vl = strlen(v[i]);
		if (len + vl + (i > 0) + 1 > bufsz)
			return -1;
		if (i > 0)
			buf[len++] = ',';
		memcpy(buf + len, v[i], vl + 1);
		len += vl;
	}
	return 0;
}
