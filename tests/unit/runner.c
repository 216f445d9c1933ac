/*
 * runner.c - the unit tests' shared runner (runner.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "runner.h"

static int
selected(const char *filter, const char *suite, const char *test)
{
	char full[512];

	if (filter == NULL || filter[0] == '\0')
		return 1;
	snprintf(full, sizeof(full), "%s: %s", suite, test);
	return strcasestr(full, filter) != NULL;
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-l] [FILTER]\n", prog);
	exit(1);
}

int
unit_run_suites(int argc, char **argv, const struct unit_suite *suites)
{
	const struct unit_suite *su;
	const struct unit_test *t;
	const char *filter = getenv("UNIT_FILTER");
	unsigned failures, chosen = 0;
	int list = 0;
	CU_pSuite s;

	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		list = 1;
		argc--;
		argv++;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		usage(argv[0]);
	if (argc == 2)
		filter = argv[1];
	if (list) {
		for (su = suites; su->name != NULL; su++)
			for (t = su->tests; t->name != NULL; t++)
				if (selected(filter, su->name, t->name))
					printf("%s: %s\n", su->name, t->name);
		return 0;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (su = suites; su->name != NULL; su++) {
		if ((s = CU_add_suite(su->name, NULL, NULL)) == NULL)
			goto fail;
		for (t = su->tests; t->name != NULL; t++) {
			if (!selected(filter, su->name, t->name))
				continue;
			if (CU_add_test(s, t->name, t->fn) == NULL)
				goto fail;
			chosen++;
		}
	}
	if (chosen == 0) {
		printf("no test matches '%s'\n", filter);
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS ||
	    CU_get_error() != CUE_SUCCESS)
		goto fail;
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
 fail:
	CU_cleanup_registry();
	return 1;
}

int
unit_run(int argc, char **argv, const char *suite,
    const struct unit_test *tests)
{
	const struct unit_suite suites[] = {
		{ suite, tests },
		UNIT_SUITES_END,
	};

	return unit_run_suites(argc, argv, suites);
}
