/*
 * facts.h - one login decision's registry answers, carried between the
 * lookup process and the monitor (struct ipc_lookup_facts).
 *
 * The lookup process asks the Redis registry through a recording backend:
 * every answer the registry gives during policy_check() is written into
 * the facts.  The monitor then runs policy_check() itself over a backend
 * that answers only from those facts.  Both run the same function over
 * the same request, so they ask the same questions; a question the facts
 * do not answer (IPC_FACT_UNASKED) is "the registry could not answer".
 * The verdict is always the monitor's.
 */
#ifndef CSSHD_FACTS_H
#define CSSHD_FACTS_H

#include "ipc.h"
#include "policy.h"

/* All answers unasked. */
void facts_clear(struct ipc_lookup_facts *f);

/* Lookup side: a backend that asks inner and records into f.  rec is the
 * recorder's state, kept by the caller for as long as be is used. */
struct facts_recorder {
	const struct policy_backend *inner;
	struct ipc_lookup_facts *f;
};
void facts_recording_backend(struct policy_backend *be,
    struct facts_recorder *rec, const struct policy_backend *inner,
    struct ipc_lookup_facts *f);

/* Monitor side: the checks a studio record gets in the config file and
 * in the registry, once more on what the lookup process sent: 0, or -1
 * and *why. */
int facts_check(const struct ipc_lookup_facts *f, const char **why);
/* A backend answering from f (checked by facts_check first); view holds
 * the users list's pointers. */
struct facts_view {
	const struct ipc_lookup_facts *f;
	const char *users[IPC_LOOKUP_MAX_USERS];
};
void facts_backend(struct policy_backend *be, struct facts_view *view,
    const struct ipc_lookup_facts *f);

#endif
