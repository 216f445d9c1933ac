/*
 * runner.h - the one main() loop of the unit tests.  Each test program
 * still links only its module and this runner; it lists its tests and
 * calls unit_run() (one suite) or unit_run_suites() (several).
 *
 *   test_NAME            run every test
 *   test_NAME FILTER     run the tests whose "suite: test" name contains
 *                        FILTER (case-insensitive); exit 2 if none does
 *   test_NAME -l         list the tests' names
 *
 * UNIT_FILTER in the environment is used when no FILTER is given
 * (make unit FILTER=...).
 */
#ifndef CSSHD_TEST_RUNNER_H
#define CSSHD_TEST_RUNNER_H

#include <CUnit/CUnit.h>

struct unit_test {
	const char *name;
	CU_TestFunc fn;
};
#define UNIT_END	{ NULL, NULL }

struct unit_suite {
	const char *name;
	const struct unit_test *tests;	/* ends with UNIT_END */
};
#define UNIT_SUITES_END	{ NULL, NULL }

/* 0 if every test run passed, 1 if any failed (or CUnit did), 2 if the
 * filter matched no test. */
int unit_run_suites(int argc, char **argv, const struct unit_suite *suites);
int unit_run(int argc, char **argv, const char *suite,
    const struct unit_test *tests);

#endif
