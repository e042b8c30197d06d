/*
 * Precomputed ECDSA nonces: most of a signature's cost is the per-signature
 * setup (k random, r = x(k*G) mod n, k^-1 mod n), which does not depend on the
 * key or the message. One background thread per process keeps a pool of
 * (k^-1, r) pairs per curve, computed by OpenSSL's ECDSA_sign_setup; a
 * signature then takes one pair and costs OpenSSL's ECDSA_do_sign_ex, about a
 * fortieth of a full signature for P-256. The math is OpenSSL's throughout.
 *
 * Rules that keep this as safe as a plain signature:
 * - a pair is removed from the pool under the lock before it is used, and
 *   cleared and freed right after: no pair signs twice;
 * - a forked child starts with empty pools and no thread (pthread_atfork);
 * - the thread is stopped inside OpenSSL's cleanup at exit (OPENSSL_atexit);
 * - an empty pool, a failed setup or any error falls back to the caller's
 *   ordinary EVP signature, never to a wait: a signer that finds the pool's
 *   lock taken does not wait for it either.
 *
 * The filler runs at the lowest priority (nice 19 on Linux): it gets little
 * time from a machine whose cores are all busy, which then signs almost as it
 * would without it, and a machine with a core to spare moves most of the cost
 * of each signature off the event loop. (Not SCHED_IDLE: preempted inside
 * OpenSSL's RNG, which takes a process-wide lock, it could stall normal
 * threads for long.)
 *
 * What a pool cannot protect against: a copy of the whole process memory that
 * goes on running, as when a VM is snapshotted and restored twice, or cloned
 * while running. Both copies then hold the same pairs and sign different
 * messages with them, which gives the private key away; an ordinary
 * signature hedges k with the key and the digest, a precomputed one cannot.
 * That is why the gateway leaves pools off unless configured.
 *
 * OpenSSL 3 deprecates the EC_KEY API these calls live in (still shipped by
 * every 3.x release); it is confined to this file.
 */
#define _GNU_SOURCE /* pthreads and syscall() under -std=c99 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "ecdsa_nonces.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#endif

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/provider.h>

typedef struct {
    BIGNUM *kinv;
    BIGNUM *r;
} nonce_pair;

typedef struct {
    int nid;
    int refilling;     /* set when a signature leaves the pool under half full (or finds it
                        * empty: only curves in use fill), cleared once it is full again */
    int broken;        /* a setup failed: stop filling, signatures take the EVP path */
    EC_KEY *setup_key; /* a throwaway key on the curve: ECDSA_sign_setup needs one */
    nonce_pair *pairs;
    size_t count;
} nonce_pool;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Held by the filler while it is inside OpenSSL, so a fork never copies OpenSSL's own
 * locks (its RNG's, say) in a held state; signing never takes it. */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t stopped = PTHREAD_COND_INITIALIZER; /* a stop has finished */
static nonce_pool pools[2] = {{NID_X9_62_prime256v1, 0, 0, NULL, NULL, 0},
                              {NID_secp384r1, 0, 0, NULL, NULL, 0}};
static size_t capacity;    /* pairs per curve; 0 = not started */
static int running;        /* the filler thread exists */
static int stopping;       /* a stop is joining it: start and other stops wait */
static pthread_t filler;
/* Written under the lock or atomically, read atomically (stats never wait). */
static uint64_t used_count, empty_count;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static int hooks_ok;
static int shut_down; /* OpenSSL's cleanup has run: no filler may start again */
static int filler_waiting; /* under the lock: the filler is in its condition wait */

static nonce_pool *pool_for(int bits)
{
    return bits == 256 ? &pools[0] : bits == 384 ? &pools[1] : NULL;
}

static void pair_free(nonce_pair *p)
{
    BN_clear_free(p->kinv);
    BN_clear_free(p->r);
    p->kinv = p->r = NULL;
}

/* Under the lock: the first pool being refilled. Refilling from half to full in one go
 * wakes the filler once per half a pool of signatures, not once per signature. */
static nonce_pool *pool_to_fill(void)
{
    for (size_t i = 0; i < 2; i++)
        if (pools[i].refilling && !pools[i].broken && pools[i].pairs != NULL)
            return &pools[i];
    return NULL;
}

static EC_KEY *setup_key_for(int nid)
{
    EC_KEY *key = EC_KEY_new_by_curve_name(nid);
    if (key != NULL && !EC_KEY_generate_key(key)) {
        EC_KEY_free(key);
        key = NULL;
    }
    return key;
}

static void *fill_loop(void *arg)
{
    (void)arg;
#ifdef __linux__
    /* Linux's nice values are per thread: this one only. Best effort. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
#endif
    pthread_mutex_lock(&lock);
    while (!stopping) {
        nonce_pool *pool = pool_to_fill();
        if (pool == NULL) {
            filler_waiting = 1;
            pthread_cond_wait(&wake, &lock);
            filler_waiting = 0;
            continue;
        }
        int nid = pool->nid;
        EC_KEY *key = pool->setup_key;
        pthread_mutex_unlock(&lock);

        /* Outside the pool's lock: a setup is tens of microseconds, a key generation more. */
        pthread_mutex_lock(&setup_lock);
        if (key == NULL)
            key = setup_key_for(nid);
        nonce_pair pair = {NULL, NULL};
        int ok = key != NULL && ECDSA_sign_setup(key, NULL, &pair.kinv, &pair.r);
        if (!ok)
            ERR_clear_error();
        pthread_mutex_unlock(&setup_lock);

        pthread_mutex_lock(&lock);
        if (pool->setup_key == NULL)
            pool->setup_key = key;
        else if (pool->setup_key != key)
            EC_KEY_free(key);
        if (!ok) {
            pair_free(&pair);
            pool->broken = 1; /* do not spin on a curve that fails; signatures fall back */
        } else if (!stopping && pool->count < capacity) {
            pool->pairs[pool->count] = pair;
            __atomic_store_n(&pool->count, pool->count + 1, __ATOMIC_RELAXED);
            if (pool->count == capacity)
                pool->refilling = 0;
        } else {
            pair_free(&pair);
        }
    }
    pthread_mutex_unlock(&lock);
    /* OpenSSL's per-thread cleanup takes a global lock of its own: under setup_lock, so a
     * fork never copies that lock held. */
    pthread_mutex_lock(&setup_lock);
    OPENSSL_thread_stop();
    pthread_mutex_unlock(&setup_lock);
    return NULL;
}

static void discard_pools(void)
{
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < pools[i].count; j++)
            pair_free(&pools[i].pairs[j]);
        free(pools[i].pairs);
        pools[i].pairs = NULL;
        __atomic_store_n(&pools[i].count, 0, __ATOMIC_RELAXED);
        pools[i].refilling = 0;
        pools[i].broken = 0;
    }
}

/* fork: the child must never use a pair its parent may also use. */
static void before_fork(void)
{
    pthread_mutex_lock(&setup_lock);
    pthread_mutex_lock(&lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&setup_lock);
}

static void after_fork_child(void)
{
    /* Wipe the values but free nothing: a free could need a lock another parent thread
     * held at the fork (OpenSSL's secure heap, say). The few structs are left behind. */
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < pools[i].count; j++) {
            BN_clear(pools[i].pairs[j].kinv);
            BN_clear(pools[i].pairs[j].r);
            pools[i].pairs[j].kinv = pools[i].pairs[j].r = NULL;
        }
        pools[i].pairs = NULL; /* the array is the parent's; not freed either */
        pools[i].count = 0;
        pools[i].refilling = 0;
        pools[i].broken = 0;
    }
    capacity = 0;
    running = 0; /* the thread was not copied */
    stopping = 0;
    filler_waiting = 0;
    pthread_cond_init(&wake, NULL); /* the parent's threads may have been waiting */
    pthread_cond_init(&stopped, NULL);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&setup_lock);
}

static void at_openssl_cleanup(void)
{
    pthread_mutex_lock(&lock);
    shut_down = 1;
    pthread_mutex_unlock(&lock);
    gw_ecdsa_nonces_stop();
}

static void register_hooks(void)
{
    /* OPENSSL_atexit: the thread stops inside OpenSSL's own cleanup, before anything it
     * uses is freed, whichever of the two was set up first. */
    hooks_ok = pthread_atfork(before_fork, after_fork_parent, after_fork_child) == 0
               && OPENSSL_atexit(at_openssl_cleanup);
}

int gw_ecdsa_nonces_start(size_t per_curve)
{
    if (per_curve == 0 || per_curve > GW_ECDSA_NONCES_MAX)
        return GW_ERR_ARGUMENT;
    if (pthread_once(&hooks_once, register_hooks) != 0 || !hooks_ok)
        return GW_ERR_INTERNAL;
    pthread_mutex_lock(&lock);
    while (stopping)
        pthread_cond_wait(&stopped, &lock);
    if (shut_down) { /* checked before any OpenSSL call: its state may be freed */
        pthread_mutex_unlock(&lock);
        return GW_ERR_INTERNAL;
    }
    if (running) {
        pthread_mutex_unlock(&lock);
        return GW_OK;
    }
    /* These signatures bypass the provider layer: never under a FIPS configuration. */
    if (EVP_default_properties_is_fips_enabled(NULL) || OSSL_PROVIDER_available(NULL, "fips")) {
        pthread_mutex_unlock(&lock);
        return GW_ERR_UNSUPPORTED;
    }
    for (size_t i = 0; i < 2; i++) {
        pools[i].pairs = calloc(per_curve, sizeof(nonce_pair));
        if (pools[i].pairs == NULL) {
            discard_pools();
            pthread_mutex_unlock(&lock);
            return GW_ERR_INTERNAL;
        }
    }
    __atomic_store_n(&capacity, per_curve, __ATOMIC_RELAXED);
    if (pthread_create(&filler, NULL, fill_loop, NULL) != 0) {
        discard_pools();
        __atomic_store_n(&capacity, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&lock);
        return GW_ERR_INTERNAL;
    }
    running = 1;
    pthread_mutex_unlock(&lock);
    return GW_OK;
}

void gw_ecdsa_nonces_stop(void)
{
    pthread_mutex_lock(&lock);
    /* Another caller is joining: wait for it, then look again (a start may have run). */
    while (stopping)
        pthread_cond_wait(&stopped, &lock);
    if (!running) {
        pthread_mutex_unlock(&lock);
        return;
    }
    stopping = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(filler, NULL);

    pthread_mutex_lock(&lock);
    discard_pools();
    for (size_t i = 0; i < 2; i++) {
        EC_KEY_free(pools[i].setup_key);
        pools[i].setup_key = NULL;
    }
    __atomic_store_n(&capacity, 0, __ATOMIC_RELAXED);
    running = 0;
    stopping = 0;
    pthread_cond_broadcast(&stopped);
    pthread_mutex_unlock(&lock);
}

void gw_ecdsa_nonces_stats(uint64_t *out)
{
    out[0] = __atomic_load_n(&used_count, __ATOMIC_RELAXED);
    out[1] = __atomic_load_n(&empty_count, __ATOMIC_RELAXED);
    out[2] = __atomic_load_n(&pools[0].count, __ATOMIC_RELAXED);
    out[3] = __atomic_load_n(&pools[1].count, __ATOMIC_RELAXED);
}

int gw_ecdsa_nonces_settled(void)
{
    pthread_mutex_lock(&lock); /* the filler only lets go of it to set up or to wait */
    int settled = !running || (filler_waiting && pool_to_fill() == NULL);
    pthread_mutex_unlock(&lock);
    return settled;
}

/* Take one pair off the pool, or none. The caller owns and frees it. */
static int take_pair(int bits, nonce_pair *out)
{
    nonce_pool *pool = pool_for(bits);
    if (pool == NULL || __atomic_load_n(&capacity, __ATOMIC_RELAXED) == 0)
        return 0;
    /* The filler may hold the lock and, at idle priority, not run for a while. */
    if (pthread_mutex_trylock(&lock) != 0) {
        __atomic_fetch_add(&empty_count, 1, __ATOMIC_RELAXED);
        return 0;
    }
    int taken = 0;
    if (capacity != 0) {
        if (pool->count > 0) {
            size_t last = pool->count - 1;
            *out = pool->pairs[last];
            pool->pairs[last].kinv = pool->pairs[last].r = NULL;
            __atomic_store_n(&pool->count, last, __ATOMIC_RELAXED);
            __atomic_fetch_add(&used_count, 1, __ATOMIC_RELAXED);
            taken = 1;
        } else {
            __atomic_fetch_add(&empty_count, 1, __ATOMIC_RELAXED);
        }
        if (pool->count < (capacity + 1) / 2 && !pool->refilling) {
            pool->refilling = 1;
            pthread_cond_signal(&wake);
        }
    }
    pthread_mutex_unlock(&lock);
    return taken;
}

int gw_nonce_pools_running(void) { return __atomic_load_n(&capacity, __ATOMIC_RELAXED) != 0; }

EC_KEY *gw_nonce_signing_key(EVP_PKEY *pkey)
{
    EC_KEY *key = EVP_PKEY_get1_EC_KEY(pkey);
    if (key == NULL)
        ERR_clear_error();
    return key;
}

void gw_nonce_signing_key_free(EC_KEY *key) { EC_KEY_free(key); }

int gw_nonce_sign(EC_KEY *key, int bits, const uint8_t *digest, size_t dlen, uint8_t *sig_out,
                  size_t cap, size_t *sig_len)
{
    nonce_pair pair;
    if (key == NULL || dlen > INT32_MAX || !take_pair(bits, &pair))
        return 0;
    ECDSA_SIG *sig = ECDSA_do_sign_ex(digest, (int)dlen, pair.kinv, pair.r, key);
    pair_free(&pair);
    int done = 0;
    if (sig != NULL) {
        int len = i2d_ECDSA_SIG(sig, NULL);
        unsigned char *p = sig_out;
        if (len > 0 && (size_t)len <= cap && i2d_ECDSA_SIG(sig, &p) == len) {
            *sig_len = (size_t)len;
            done = 1;
        }
        ECDSA_SIG_free(sig);
    }
    if (!done)
        ERR_clear_error(); /* e.g. s == 0: OpenSSL asks for new setup values */
    return done;
}
