/*
 * Lock-free fixed-window counters in shared memory; see quota_table.h.
 *
 * Slot word (128 bits, little end first):
 *   bits   0..63  key      (0 = never used, all-ones = released)
 *   bits  64..95  expires  (epoch second at which the slot's window ends)
 *   bits  96..127 used     (requests taken in that window; the top two bits
 *                           are the PENDING and ABORTED claim states)
 *
 * Every write is one 128-bit compare-and-swap of the whole word, and every
 * read is a CAS that cannot tear, so a slot is always seen in one of the
 * states below and each transition is atomic:
 *
 *   EMPTY / RELEASED / stale --claim--> PENDING(K,E)
 *   PENDING(K,E) --owner commits--> LIVE(K,E,count)
 *   PENDING(K,E) --owner backs off--> RELEASED
 *   PENDING(K,E) --another process aborts--> ABORTED(K,E) --owner--> RELEASED
 *   LIVE(K,E,u)  --take / give back / new window--> LIVE(K,E',u')
 *   any slot whose window ended before now_sec --claim--> PENDING(K',E')
 *
 * Invariant: at most one LIVE slot holds a given key, so all takes of a
 * bucket in a window go through one counter and the sum never exceeds the
 * capacity. Nobody takes from a PENDING slot: a new bucket becomes LIVE only
 * after its claimer has re-scanned the whole probe sequence and seen no other
 * LIVE slot and no earlier PENDING slot for the same key (a later PENDING one
 * it aborts). For two concurrent claims of one key, each claim CAS precedes its
 * owner's re-scan, so at least one re-scan reads the other's slot after it was
 * claimed (the Dekker argument; every CAS is a full barrier); that owner then
 * backs off, or aborts the other, whose commit CAS then fails. Slots never go
 * back to EMPTY, so a scan may stop at the first EMPTY slot.
 *
 * The one assumption: a slot is reclaimed only once its window ended at least
 * one second before the reclaimer's clock (expires < now_sec), so a caller
 * whose clock reading is more than a second older than another's may count a
 * finished window afresh. Callers on one host read the same clock.
 */
#include "quota_table.h"

#include <stddef.h>

typedef unsigned __int128 gw_word;

#define USED_PENDING 0x80000000u
#define USED_ABORTED 0x40000000u
#define USED_FLAGS (USED_PENDING | USED_ABORTED)

/* Spins on another process's claim before aborting it (the claim normally
 * commits within a few hundred nanoseconds; the owner may have died). */
#define PENDING_SPINS 4096

enum { RESTART = 2 };

#if defined(__x86_64__)
/* With -mcx16 this inlines `lock cmpxchg16b` (the __atomic builtins would call
 * libatomic for 16-byte objects). */
static inline gw_word cas(gw_word *p, gw_word expected, gw_word desired)
{
    return __sync_val_compare_and_swap(p, expected, desired);
}
static inline void cpu_relax(void) { __builtin_ia32_pause(); }
#else
static inline gw_word cas(gw_word *p, gw_word expected, gw_word desired)
{
    /* On failure `expected` is overwritten with the current value; on success
     * it already equals it, so either way it is the value seen by the CAS. */
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}
static inline void cpu_relax(void) {}
#endif

/* A CAS that writes only what is already there: an untearable 128-bit read. */
static inline gw_word load(gw_word *p) { return cas(p, 0, 0); }

static inline gw_word pack(uint64_t key, uint32_t expires, uint32_t used)
{
    return (gw_word)key | ((gw_word)expires << 64) | ((gw_word)used << 96);
}
static inline uint64_t key_of(gw_word w) { return (uint64_t)w; }
static inline uint32_t expires_of(gw_word w) { return (uint32_t)(w >> 64); }
static inline uint32_t used_of(gw_word w) { return (uint32_t)(w >> 96); }
static inline int is_pending(gw_word w) { return (used_of(w) & USED_PENDING) != 0; }
static inline int is_aborted(gw_word w) { return (used_of(w) & USED_ABORTED) != 0; }
static inline int is_live_state(gw_word w) { return (used_of(w) & USED_FLAGS) == 0; }

static const gw_word RELEASED_WORD = (gw_word)GW_QUOTA_KEY_RELEASED;

/* A slot another bucket may take over: released, or its window is over. */
static inline int reclaimable(gw_word w, uint32_t now_sec)
{
    uint64_t k = key_of(w);
    return k == GW_QUOTA_KEY_EMPTY || k == GW_QUOTA_KEY_RELEASED || expires_of(w) < now_sec;
}

static inline int bad_key(uint64_t key)
{
    return key == GW_QUOTA_KEY_EMPTY || key == GW_QUOTA_KEY_RELEASED;
}

static inline uint32_t probe_len(uint32_t nslots)
{
    return nslots < GW_QUOTA_PROBE_LIMIT ? nslots : GW_QUOTA_PROBE_LIMIT;
}

uint32_t gw_quota_abi_version(void) { return GW_QUOTA_ABI_VERSION; }

/* Give up our claim, whether it is still PENDING or was ABORTED meanwhile. */
static void release_claim(gw_word *slot, uint64_t key, uint32_t expires)
{
    gw_word pending = pack(key, expires, USED_PENDING);
    gw_word aborted = pack(key, expires, USED_ABORTED);
    gw_word seen = cas(slot, pending, RELEASED_WORD);
    if (seen != pending && seen == aborted)
        cas(slot, aborted, RELEASED_WORD);
    /* Anything else: the slot's window went stale and was reclaimed already. */
}

/* Add `count` to the LIVE slot `idx` last seen as `seen`. */
static int take_from_live(gw_word *slots, uint32_t idx, gw_word seen, uint64_t key,
                          uint32_t expires, uint32_t capacity, uint32_t count)
{
    for (;;) {
        uint32_t stored = expires_of(seen);
        /* A caller whose clock reading lags another process's by a hair at a window
         * edge finds the bucket already in the next window: it counts there (refusing
         * it would throttle a request no window was full for). */
        uint32_t window = stored > expires ? stored : expires;
        uint64_t base = stored == window ? used_of(seen) : 0;
        if (base + count > capacity)
            return GW_QUOTA_THROTTLED;
        gw_word desired = pack(key, window, (uint32_t)(base + count));
        gw_word now_seen = cas(&slots[idx], seen, desired);
        if (now_seen == seen)
            return GW_QUOTA_TAKEN;
        seen = now_seen;
        if (key_of(seen) != key || !is_live_state(seen))
            return RESTART;
    }
}

/* Wait briefly for another process's claim to settle; abort it if it does not. */
static void settle_foreign_claim(gw_word *slot, gw_word pending)
{
    /* Cheap relaxed reads of the upper half while spinning: only a hint, so a
     * torn read just means one more loop; the decision below uses a real CAS. */
    volatile uint64_t *hi = (volatile uint64_t *)slot + 1;
    uint64_t pending_hi = (uint64_t)(pending >> 64);
    for (int i = 0; i < PENDING_SPINS; i++) {
        if (*hi != pending_hi)
            return;
        cpu_relax();
    }
    cas(slot, pending, pack(key_of(pending), expires_of(pending), USED_ABORTED));
}

/*
 * After claiming slot `mine` (probe position `my_pos`), check the rest of the
 * probe sequence for a competing slot of the same key. Returns 1 if our claim
 * stands, 0 if we must back off.
 */
static int claim_stands(gw_word *slots, uint32_t nslots, uint32_t start, uint32_t probe,
                        uint32_t my_pos, uint64_t key)
{
    for (uint32_t pos = 0; pos < probe; pos++) {
        if (pos == my_pos)
            continue;
        gw_word *slot = &slots[(start + pos) % nslots];
        gw_word w = load(slot);
        for (;;) {
            if (key_of(w) == GW_QUOTA_KEY_EMPTY)
                return 1; /* nobody ever went further along this sequence */
            if (key_of(w) != key || is_aborted(w))
                break;
            if (is_live_state(w))
                return 0; /* the bucket already has a live slot */
            if (pos < my_pos)
                return 0; /* an earlier concurrent claim wins */
            gw_word aborted = pack(key, expires_of(w), USED_ABORTED);
            gw_word seen = cas(slot, w, aborted);
            if (seen == w)
                break; /* a later concurrent claim: aborted, its owner retries */
            w = seen;  /* it changed under us: judge the new value */
        }
    }
    return 1;
}

int gw_quota_take(void *table, uint32_t nslots, uint64_t key, uint32_t expires,
                  uint32_t capacity, uint32_t count, uint32_t now_sec)
{
    if (table == NULL || nslots == 0 || bad_key(key) || count == 0 ||
        count > GW_QUOTA_MAX_COUNT || capacity > GW_QUOTA_MAX_COUNT)
        return GW_QUOTA_BAD_ARGUMENT;
    if (count > capacity)
        return GW_QUOTA_THROTTLED; /* can never fit: create nothing */

    gw_word *slots = (gw_word *)table;
    uint32_t probe = probe_len(nslots);
    uint32_t start = (uint32_t)(key % nslots);

    for (;;) {
        int64_t found = -1, free_pos = -1;
        gw_word found_word = 0, free_word = 0;
        for (uint32_t pos = 0; pos < probe; pos++) {
            gw_word w = load(&slots[(start + pos) % nslots]);
            uint64_t k = key_of(w);
            if (k == key && !is_aborted(w)) {
                found = pos;
                found_word = w;
                break;
            }
            if (free_pos < 0 && reclaimable(w, now_sec)) {
                free_pos = pos;
                free_word = w;
            }
            if (k == GW_QUOTA_KEY_EMPTY)
                break;
        }

        if (found >= 0) {
            uint32_t idx = (start + (uint32_t)found) % nslots;
            if (is_pending(found_word)) {
                settle_foreign_claim(&slots[idx], found_word);
                continue;
            }
            int rc = take_from_live(slots, idx, found_word, key, expires, capacity, count);
            if (rc == RESTART)
                continue;
            return rc;
        }
        if (free_pos < 0)
            return GW_QUOTA_FULL;

        uint32_t idx = (start + (uint32_t)free_pos) % nslots;
        gw_word pending = pack(key, expires, USED_PENDING);
        if (cas(&slots[idx], free_word, pending) != free_word)
            continue; /* someone else took the slot first: look again */
        if (!claim_stands(slots, nslots, start, probe, (uint32_t)free_pos, key)) {
            release_claim(&slots[idx], key, expires);
            continue;
        }
        if (cas(&slots[idx], pending, pack(key, expires, count)) == pending)
            return GW_QUOTA_TAKEN;
        release_claim(&slots[idx], key, expires); /* aborted by a competing claim */
    }
}

int gw_quota_give_back(void *table, uint32_t nslots, uint64_t key, uint32_t expires,
                       uint32_t count)
{
    if (table == NULL || nslots == 0 || bad_key(key) || count == 0 ||
        count > GW_QUOTA_MAX_COUNT)
        return GW_QUOTA_BAD_ARGUMENT;
    gw_word *slots = (gw_word *)table;
    uint32_t probe = probe_len(nslots);
    uint32_t start = (uint32_t)(key % nslots);
    for (uint32_t pos = 0; pos < probe; pos++) {
        gw_word *slot = &slots[(start + pos) % nslots];
        gw_word w = load(slot);
        if (key_of(w) == GW_QUOTA_KEY_EMPTY)
            return 0;
        if (key_of(w) != key || !is_live_state(w))
            continue;
        for (;;) {
            if (expires_of(w) != expires)
                return 0; /* the window we took from is over: nothing to undo */
            uint32_t used = used_of(w);
            uint32_t back = count < used ? count : used;
            if (back == 0)
                return 0;
            gw_word seen = cas(slot, w, pack(key, expires, used - back));
            if (seen == w)
                return 1;
            w = seen;
            if (key_of(w) != key || !is_live_state(w))
                return 0; /* reclaimed meanwhile, so its window was over */
        }
    }
    return 0;
}

uint32_t gw_quota_live(void *table, uint32_t nslots, uint32_t now_sec)
{
    if (table == NULL)
        return 0;
    gw_word *slots = (gw_word *)table;
    uint32_t live = 0;
    for (uint32_t i = 0; i < nslots; i++) {
        gw_word w = load(&slots[i]);
        if (!bad_key(key_of(w)) && is_live_state(w) && expires_of(w) > now_sec)
            live++;
    }
    return live;
}
