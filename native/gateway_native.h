/*
 * Batch-shaped crypto core over OpenSSL libcrypto (EVP).
 *
 * This file is the single source of declarations: the C compiler reads all
 * of it, and native/build_native.py hands the part between the CDEF markers
 * to cffi's cdef, so the two can never disagree.
 *
 * Contract for every function: the caller allocates every buffer, nothing is
 * retained after return (but a job queued on the ECDSA thread, until collected), no Python objects are touched, and all functions are
 * safe to call from several threads at once (a key handle may be shared by
 * concurrent sign/verify calls; it must not be freed while one is running).
 *
 * Variable-length items travel as one contiguous buffer plus an array of
 * per-item lengths (or, where noted, one length for every item); item i
 * starts where item i-1 ended.
 */
#ifndef GATEWAY_NATIVE_H
#define GATEWAY_NATIVE_H

#include <stddef.h>
#include <stdint.h>

/* CDEF BEGIN */
#define GW_AES_KEY_SIZE 32
#define GW_AES_IV_SIZE 12
#define GW_AES_TAG_SIZE 16

/* Batch-level return codes (item-level codes are in the status arrays). */
#define GW_OK 0
#define GW_ITEM_AUTH_FAILED 1
#define GW_ERR_INTERNAL -1
#define GW_ERR_RAND -2
#define GW_ERR_DECODE -3
#define GW_ERR_UNSUPPORTED -4
#define GW_ERR_ARGUMENT -5

/* Opaque EC key handle (wraps an EVP_PKEY). */
typedef struct gw_ec_key gw_ec_key;

/* OpenSSL version the module was compiled against / is running with. */
unsigned long gw_openssl_version_compiled(void);
unsigned long gw_openssl_version_runtime(void);
const char *gw_openssl_version_text(void);

/*
 * AES-256-GCM seal of n items under one key. All n IVs come from a single
 * RAND_bytes call and are written to ivs_out (n * 12 bytes). ct_out receives
 * the concatenated ciphertexts (same total length as pts), tags_out n * 16
 * bytes. Returns GW_OK, or a negative code (then no output is usable: sealing
 * fails only on RNG or internal errors, never because of an item's content).
 */
int gw_aes_gcm_seal(const uint8_t *key, size_t n,
                    const uint8_t *pts, const size_t *pt_lens,
                    const uint8_t *aads, const size_t *aad_lens,
                    uint8_t *ivs_out, uint8_t *ct_out, uint8_t *tags_out);

/* Same as gw_aes_gcm_seal with caller-given IVs. For known-answer tests only. */
int gw_aes_gcm_seal_with_ivs(const uint8_t *key, size_t n, const uint8_t *ivs,
                             const uint8_t *pts, const size_t *pt_lens,
                             const uint8_t *aads, const size_t *aad_lens,
                             uint8_t *ct_out, uint8_t *tags_out);

/*
 * AES-256-GCM seal of n items under one key, each item's complete output
 * written contiguously into one caller buffer:
 *
 *     out = prefix_0 || iv_0 || ct_0 || tag_0 || prefix_1 || iv_1 || ...
 *
 * Item i takes prefix_len_i + 12 + pt_len_i + 16 bytes. Prefixes (e.g. a blob
 * header) are copied verbatim and are NOT authenticated: put them in the AAD
 * as well if they must be.
 *
 * Each input comes with a per-item length array or, when that array is NULL,
 * one length for every item (no array to build for uniform batches):
 *   prefix_lens: prefixes concatenated, prefix_lens[i] each; NULL: one prefix
 *     of prefix_len bytes shared by every item (a batch under one key version).
 *   pt_lens / aad_lens: items concatenated, pt_lens[i] / aad_lens[i] each;
 *     NULL: n consecutive items of pt_len / aad_len bytes each.
 * All n IVs come from one RAND_bytes call, drawn into the tail of out and
 * moved into place (no scratch allocation). out_cap must be at least the sum
 * of the item sizes, else GW_ERR_ARGUMENT and nothing is written. Returns
 * GW_OK or a negative code (then no output is usable), like gw_aes_gcm_seal.
 */
int gw_aes_gcm_seal_packed(const uint8_t *key, size_t n,
                           const uint8_t *prefixes, const size_t *prefix_lens, size_t prefix_len,
                           const uint8_t *pts, const size_t *pt_lens, size_t pt_len,
                           const uint8_t *aads, const size_t *aad_lens, size_t aad_len,
                           uint8_t *out, size_t out_cap);

/* Same as gw_aes_gcm_seal_packed with caller-given IVs (n * 12). Tests only. */
int gw_aes_gcm_seal_packed_with_ivs(const uint8_t *key, size_t n, const uint8_t *ivs,
                                    const uint8_t *prefixes, const size_t *prefix_lens,
                                    size_t prefix_len,
                                    const uint8_t *pts, const size_t *pt_lens, size_t pt_len,
                                    const uint8_t *aads, const size_t *aad_lens, size_t aad_len,
                                    uint8_t *out, size_t out_cap);

/*
 * AES-256-GCM open of n items under one key: ivs n * 12, tags n * 16, cts
 * concatenated. status[i] is GW_OK or GW_ITEM_AUTH_FAILED (the item's
 * plaintext bytes are zeroed then). A bad item fails alone.
 */
int gw_aes_gcm_open(const uint8_t *key, size_t n, const uint8_t *ivs,
                    const uint8_t *cts, const size_t *ct_lens,
                    const uint8_t *tags,
                    const uint8_t *aads, const size_t *aad_lens,
                    uint8_t *pt_out, uint8_t *status);

/*
 * AES-256-GCM open of n packed items, the inverse of gw_aes_gcm_seal_packed:
 * item i is skip bytes (a prefix, e.g. a blob header, not read here: put it in
 * the AAD if it must be authenticated) || iv 12 || ct || tag 16. Items come
 * concatenated, item_lens[i] bytes each or, when item_lens is NULL, item_size
 * each; AADs likewise (aad_lens / aad_len). pt_out receives the plaintexts
 * concatenated, item length - skip - 28 bytes each; status[i] as for
 * gw_aes_gcm_open. An item shorter than skip + 28, or pt_cap below the
 * plaintexts' total, is GW_ERR_ARGUMENT and nothing is written.
 */
int gw_aes_gcm_open_packed(const uint8_t *key, size_t n, size_t skip,
                           const uint8_t *items, const size_t *item_lens, size_t item_size,
                           const uint8_t *aads, const size_t *aad_lens, size_t aad_len,
                           uint8_t *pt_out, size_t pt_cap, uint8_t *status);

/* SHA-256 (bits = 256) or SHA-384 (bits = 384) of n messages; out n * 32|48. */
int gw_digest_batch(int bits, size_t n, const uint8_t *msgs, const size_t *lens,
                    uint8_t *out);

/*
 * Load a P-256/P-384 key. Private: PKCS#8 PrivateKeyInfo DER; public:
 * SubjectPublicKeyInfo DER. Trailing bytes are rejected. Returns NULL and sets
 * *err (GW_ERR_DECODE / GW_ERR_UNSUPPORTED / GW_ERR_INTERNAL) on failure.
 */
gw_ec_key *gw_ec_load_private_pkcs8(const uint8_t *der, size_t len, int *err);
gw_ec_key *gw_ec_load_public_spki(const uint8_t *der, size_t len, int *err);
/* Fresh random private key on P-256 (bits = 256) or P-384 (bits = 384). */
gw_ec_key *gw_ec_generate(int bits, int *err);
void gw_ec_free(gw_ec_key *key);

/* Curve size in bits (256 or 384): also the digest length in bits. */
int gw_ec_bits(const gw_ec_key *key);
int gw_ec_is_private(const gw_ec_key *key);
/* Largest DER signature this key can produce (the per-item stride for sign). */
size_t gw_ec_max_sig_size(const gw_ec_key *key);

/*
 * DER encodings. With out == NULL return the needed length; otherwise write
 * it if cap is large enough. Returns the length or a negative code.
 */
long gw_ec_export_spki(const gw_ec_key *key, uint8_t *out, size_t cap);
long gw_ec_export_pkcs8(const gw_ec_key *key, uint8_t *out, size_t cap);

/*
 * ECDSA sign of n digests of dlen bytes each (dlen must equal bits / 8).
 * Signature i is written at sigs_out + i * sig_stride (sig_stride must be at
 * least gw_ec_max_sig_size), its length to sig_lens[i]; status[i] GW_OK or
 * GW_ERR_INTERNAL.
 */
int gw_ec_sign(const gw_ec_key *key, size_t n, const uint8_t *digests, size_t dlen,
               uint8_t *sigs_out, size_t sig_stride, size_t *sig_lens, int *status);

/*
 * ECDSA verify of n (digest, DER signature) pairs; signatures concatenated
 * with per-item lengths. results[i] is 1 for a valid signature, else 0.
 */
int gw_ec_verify(const gw_ec_key *key, size_t n, const uint8_t *digests, size_t dlen,
                 const uint8_t *sigs, const size_t *sig_lens, int *results);

/*
 * SigV4 signature check of one request (native/sigv4_check.c). The caller
 * builds the two text parts that depend on parsing; this computes the three
 * hashes that follow from them:
 *
 *     body_hash  = hex(SHA-256(body))
 *     canonical  = canonical_head || body_hash
 *     expected   = hex(HMAC-SHA-256(signing_key, sts_head || hex(SHA-256(canonical))))
 *
 * canonical_head is the canonical request up to and including the newline
 * after the signed-headers line; sts_head is the string to sign up to and
 * including the newline after the credential scope. If declared is not NULL
 * (the request's x-amz-content-sha256), it must equal body_hash. Hex is
 * lower-case. Returns 1 if `provided` equals `expected` (constant-time
 * compare), 0 if it does not or the declared hash differs, or a negative code.
 * Each calling thread keeps one digest and one HMAC context for its lifetime.
 */
#define GW_SIGV4_MATCH 1
#define GW_SIGV4_MISMATCH 0
int gw_sigv4_check(const uint8_t *signing_key, size_t key_len,
                   const uint8_t *canonical_head, size_t head_len,
                   const uint8_t *body, size_t body_len,
                   const uint8_t *declared, size_t declared_len,
                   const uint8_t *sts_head, size_t sts_len,
                   const uint8_t *provided, size_t provided_len);
/*
 * Precomputed ECDSA nonces (native/ecdsa_nonces.c). Start one background
 * thread that keeps up to per_curve (k^-1, r) pairs ready for each curve that
 * has been signed with since; gw_ec_sign then uses one pair per signature and
 * falls back to a full signature when the pool is empty. Idempotent while
 * running (a start during a stop waits for it); GW_ERR_ARGUMENT for 0 or more
 * than GW_ECDSA_NONCES_MAX, GW_ERR_UNSUPPORTED when OpenSSL's default
 * properties ask for FIPS or the FIPS provider is loaded (these signatures
 * bypass the providers), GW_ERR_INTERNAL once OpenSSL's cleanup ran. Stop joins
 * the thread and clears every unused pair; it also runs inside OpenSSL's
 * cleanup at exit. Pools do not survive a copy of the process that goes on
 * running (a VM snapshot restored twice): see ecdsa_nonces.c. Stats: out[0]
 * signatures made with a pair, out[1] signatures that found the pool empty
 * (or its lock taken: signers never wait), out[2] and out[3] pairs ready for
 * P-256 and P-384. A pool is refilled to full once a signature leaves it
 * under half full. Settled: 1 when no pool is being refilled and the thread
 * is waiting (takes the lock: for tests, not for the signing path).
 */
#define GW_ECDSA_NONCES_MAX 65536
int gw_ecdsa_nonces_start(size_t per_curve);
void gw_ecdsa_nonces_stop(void);
void gw_ecdsa_nonces_stats(uint64_t *out);
int gw_ecdsa_nonces_settled(void);
/*
 * ECDSA batches on a native thread (native/ecdsa_worker.c): one thread and one
 * eventfd per worker. gw_ecw_submit queues a job and returns at once; the
 * thread runs gw_ec_sign (op GW_ECW_SIGN: key, n, digests, dlen, sigs,
 * sig_stride, sig_lens, status) or gw_ec_verify (GW_ECW_VERIFY: key, n,
 * digests, dlen, in_sigs, in_sig_lens, results) on it, sets rc to that call's
 * return code and seconds to its duration, and makes the eventfd readable. gw_ecw_collect takes up to max
 * finished jobs' ids, oldest first, and resets the eventfd (it stays readable
 * while more are finished). The caller owns each job, its buffers and its key
 * until the job's id has come back. gw_ecw_stop finishes every queued job,
 * joins the thread and frees the worker: collect before stopping. A forked
 * child inherits the struct but not the thread: it must neither submit to nor
 * stop the copy (the Python layer checks the process id and leaves it). Start returns NULL and *err on failure;
 * submit returns GW_ERR_ARGUMENT for a job without a key or after stop began.
 * gw_ecw_set_idle puts the thread under SCHED_IDLE (1) or back under the
 * normal policy (0); GW_ERR_UNSUPPORTED where there is no SCHED_IDLE.
 */
#define GW_ECW_SIGN 1
#define GW_ECW_VERIFY 2
typedef struct gw_ecw gw_ecw;
typedef struct gw_ec_job {
    int op;
    const gw_ec_key *key;
    size_t n;
    const uint8_t *digests;
    size_t dlen;
    uint8_t *sigs;
    size_t sig_stride;
    size_t *sig_lens;
    int *status;
    const uint8_t *in_sigs;
    const size_t *in_sig_lens;
    int *results;
    int rc;
    double seconds; /* the native call's duration */
    uint64_t id;
    struct gw_ec_job *next; /* the worker's queue link */
} gw_ec_job;
gw_ecw *gw_ecw_start(int *err);
int gw_ecw_set_idle(gw_ecw *w, int idle);
int gw_ecw_fd(const gw_ecw *w);
int gw_ecw_submit(gw_ecw *w, gw_ec_job *job);
size_t gw_ecw_collect(gw_ecw *w, uint64_t *ids, size_t max);
void gw_ecw_stop(gw_ecw *w);
/* CDEF END */

#endif /* GATEWAY_NATIVE_H */
