/*
 * Lock-free table of fixed-window request counters in caller-provided shared
 * memory (an mmap of a file, MAP_SHARED), exact across the worker processes
 * of one host.
 *
 * This file is the single source of declarations: the C compiler reads all
 * of it, and native/build_quota.py hands the part between the CDEF markers to
 * cffi's cdef, so the two can never disagree.
 *
 * The table is `nslots` 16-byte slots, 16-byte aligned, zeroed when created.
 * Each slot is one 128-bit word (key | expires | used) updated only by a
 * 128-bit compare-and-swap. Nothing is allocated, no global state is kept and
 * every function is safe to call from any number of threads and processes.
 */
#ifndef GATEWAY_QUOTA_TABLE_H
#define GATEWAY_QUOTA_TABLE_H

#include <stdint.h>

/* CDEF BEGIN */
/* Bumped whenever the slot layout or a signature changes; checked at import. */
#define GW_QUOTA_ABI_VERSION 1

#define GW_QUOTA_SLOT_SIZE 16
/* How many slots from key % nslots a bucket may occupy. */
#define GW_QUOTA_PROBE_LIMIT 32
/* Largest capacity / count: the top two bits of `used` mark claim states. */
#define GW_QUOTA_MAX_COUNT 0x3fffffff

/* Return codes of gw_quota_take. */
#define GW_QUOTA_TAKEN 1
#define GW_QUOTA_THROTTLED 0
#define GW_QUOTA_FULL -1
#define GW_QUOTA_BAD_ARGUMENT -2

/* Reserved key values: 0 marks a never-used slot, all-ones a released one. */
#define GW_QUOTA_KEY_EMPTY 0
#define GW_QUOTA_KEY_RELEASED 0xffffffffffffffff

uint32_t gw_quota_abi_version(void);

/*
 * Take `count` from bucket `key` in the window that ends at `expires` (epoch
 * seconds) and holds `capacity`. `now_sec` is floor(now); slots whose window
 * ended before it may be reclaimed for other buckets.
 * Returns GW_QUOTA_TAKEN, GW_QUOTA_THROTTLED (nothing changed; also when the
 * bucket already holds a window newer than `expires`), GW_QUOTA_FULL (the
 * bucket has no slot and none of its probe slots is free) or
 * GW_QUOTA_BAD_ARGUMENT.
 */
int gw_quota_take(void *table, uint32_t nslots, uint64_t key, uint32_t expires,
                  uint32_t capacity, uint32_t count, uint32_t now_sec);

/*
 * Undo a take of `count` in the window ending at `expires` (used never goes
 * below 0). Returns 1 if the bucket's counter changed, 0 if the bucket is gone
 * or holds another window, GW_QUOTA_BAD_ARGUMENT on bad arguments.
 */
int gw_quota_give_back(void *table, uint32_t nslots, uint64_t key, uint32_t expires,
                       uint32_t count);

/* Number of buckets whose window has not ended at `now_sec` (expires > now_sec). */
uint32_t gw_quota_live(void *table, uint32_t nslots, uint32_t now_sec);
/* CDEF END */

#endif
