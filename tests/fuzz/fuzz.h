/* fuzz.h - what every fuzz target shares: CHECK aborts with the failed condition, so
 * libFuzzer records the input as a crash (an assert() would vanish under NDEBUG). */
#ifndef PARLEY_FUZZ_H
#define PARLEY_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                \
	do {                                                                           \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                          \
	} while (0)

#endif
