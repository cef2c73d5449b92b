/* hist.h: a log-linear latency histogram for the load generator.
 *
 * Values are nanoseconds. Below 64 every value has its own bucket; above, each power of two
 * is split into 64 equal buckets, so a reported percentile is within 1/64 (1.6 %) of the
 * true value. The whole range of uint64_t fits in HIST_BUCKETS counters (30 KiB). One
 * histogram per worker thread, merged by the main thread at the end: no locking. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
};

/* The bucket holding v. */
static inline unsigned hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

/* The smallest value of bucket i, and the width of the bucket. */
static inline uint64_t hist_low(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	unsigned shift = i / HIST_SUB - 1;
	return (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
}

static inline uint64_t hist_width(unsigned i)
{
	return i < HIST_SUB ? 1 : (uint64_t)1 << (i / HIST_SUB - 1);
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* Adds every sample of src to dst. */
static inline void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* The value at quantile q (0..1): the middle of the bucket holding the sample of rank
 * ceil(q * count), capped at the exact maximum. 0 when the histogram is empty. */
static inline uint64_t hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t v = hist_low(i) + hist_width(i) / 2;
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

#endif
