/*
 * fuzz_username.c - libFuzzer target: splitting "<user>@<session>" and the
 * user and session name rules.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, user[POLICY_MAX_USER + 1], session[POLICY_MAX_SESSION + 1];

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (policy_split_username(s, user, sizeof(user), session,
	    sizeof(session)) == 0) {
		/* What it accepts must pass the rules on their own. */
		if (policy_valid_user(user) != 0 ||
		    policy_valid_session(session) != 0)
			abort();
	}
	(void)policy_valid_user(s);
	(void)policy_valid_session(s);
	free(s);
	return 0;
}
