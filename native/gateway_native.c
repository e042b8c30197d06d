/*
 * Batch loops over OpenSSL EVP. No cipher or curve arithmetic lives here:
 * OpenSSL supplies the constant-time AES-NI and nistz256 code; this file only
 * amortises per-call overhead (context setup, key schedule, RNG calls) over a
 * batch. See gateway_native.h for the contract.
 */
#include "gateway_native.h"
#include "ecdsa_nonces.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "gateway native core needs OpenSSL >= 3.0 headers"
#endif

/* EVP update calls take int lengths: feed larger items in chunks. */
#define GW_CHUNK ((size_t)1 << 30)

struct gw_ec_key {
    EVP_PKEY *pkey;
    EC_KEY *nonce_key; /* made at the first signature while nonce pools run (nonce_key_of) */
    int bits;
    int is_private;
    size_t max_sig;
};

/*
 * Explicitly fetched algorithms, shared read-only by all threads. Fetching
 * once avoids OpenSSL 3's implicit fetch (a locked lookup) on every init.
 */
static CRYPTO_ONCE algs_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_CIPHER *aes_256_gcm;
static EVP_MD *sha256;
static EVP_MD *sha384;

static void fetch_algs(void)
{
    aes_256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    sha384 = EVP_MD_fetch(NULL, "SHA2-384", NULL);
}

static int algs_ready(void)
{
    return CRYPTO_THREAD_run_once(&algs_once, fetch_algs) && aes_256_gcm != NULL
           && sha256 != NULL && sha384 != NULL;
}

unsigned long gw_openssl_version_compiled(void) { return OPENSSL_VERSION_NUMBER; }
unsigned long gw_openssl_version_runtime(void) { return OpenSSL_version_num(); }
const char *gw_openssl_version_text(void) { return OpenSSL_version(OPENSSL_VERSION); }

/* out == NULL feeds AAD. GCM is a stream mode, so outl always equals inl. */
static int cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
    while (len > 0) {
        int inl = len > GW_CHUNK ? (int)GW_CHUNK : (int)len;
        int outl = 0;
        if (!EVP_CipherUpdate(ctx, out, &outl, in, inl))
            return 0;
        if (out != NULL)
            out += outl;
        in += inl;
        len -= (size_t)inl;
    }
    return 1;
}

/*
 * A context holding the AES key schedule of one batch, ready for per-item IVs:
 * for sealing (encrypt = 1) or opening (encrypt = 0). NULL on failure.
 */
static EVP_CIPHER_CTX *gcm_ctx_new(const uint8_t *key, int encrypt)
{
    EVP_CIPHER_CTX *ctx;

    if (!algs_ready())
        return NULL;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return NULL;
    if (!EVP_CipherInit_ex2(ctx, aes_256_gcm, key, NULL, encrypt, NULL)) {
        EVP_CIPHER_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    return ctx;
}

/*
 * One item under the batch's key schedule: only the IV is reset. The tag is
 * read with EVP_CIPHER_CTX_get_params, which EVP_CIPHER_CTX_ctrl(GET_TAG)
 * only wraps on OpenSSL 3 (asking for it directly saves ~3% of the item).
 */
static int seal_one(EVP_CIPHER_CTX *ctx, const uint8_t *iv,
                    const uint8_t *aad, size_t aad_len,
                    const uint8_t *pt, size_t pt_len,
                    uint8_t *ct_out, uint8_t *tag_out)
{
    uint8_t scratch[16];
    int outl = 0;
    OSSL_PARAM tag[2];

    tag[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag_out,
                                               GW_AES_TAG_SIZE);
    tag[1] = OSSL_PARAM_construct_end();
    return EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL)
           && cipher_update(ctx, NULL, aad, aad_len)
           && cipher_update(ctx, ct_out, pt, pt_len)
           && EVP_EncryptFinal_ex(ctx, scratch, &outl)
           && EVP_CIPHER_CTX_get_params(ctx, tag);
}

static int seal_items(const uint8_t *key, size_t n, const uint8_t *ivs,
                      const uint8_t *pts, const size_t *pt_lens,
                      const uint8_t *aads, const size_t *aad_lens,
                      uint8_t *ct_out, uint8_t *tags_out)
{
    EVP_CIPHER_CTX *ctx;
    int failed = 0;

    if (n == 0)
        return GW_OK;
    ctx = gcm_ctx_new(key, 1);
    if (ctx == NULL)
        return GW_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        failed |= !seal_one(ctx, ivs + i * GW_AES_IV_SIZE, aads, aad_lens[i], pts, pt_lens[i],
                            ct_out, tags_out + i * GW_AES_TAG_SIZE);
        aads += aad_lens[i];
        pts += pt_lens[i];
        ct_out += pt_lens[i];
    }
    EVP_CIPHER_CTX_free(ctx);
    if (failed) {
        ERR_clear_error();
        return GW_ERR_INTERNAL;
    }
    return GW_OK;
}

int gw_aes_gcm_seal(const uint8_t *key, size_t n,
                    const uint8_t *pts, const size_t *pt_lens,
                    const uint8_t *aads, const size_t *aad_lens,
                    uint8_t *ivs_out, uint8_t *ct_out, uint8_t *tags_out)
{
    if (n == 0)
        return GW_OK;
    if (n > (size_t)INT_MAX / GW_AES_IV_SIZE)
        return GW_ERR_ARGUMENT;
    /* One RNG call per batch: a 12-byte RAND_bytes costs ~10x its bulk share. */
    if (RAND_bytes(ivs_out, (int)(n * GW_AES_IV_SIZE)) != 1) {
        ERR_clear_error();
        return GW_ERR_RAND;
    }
    return seal_items(key, n, ivs_out, pts, pt_lens, aads, aad_lens, ct_out, tags_out);
}

int gw_aes_gcm_seal_with_ivs(const uint8_t *key, size_t n, const uint8_t *ivs,
                             const uint8_t *pts, const size_t *pt_lens,
                             const uint8_t *aads, const size_t *aad_lens,
                             uint8_t *ct_out, uint8_t *tags_out)
{
    return seal_items(key, n, ivs, pts, pt_lens, aads, aad_lens, ct_out, tags_out);
}

#define GW_AES_OVERHEAD (GW_AES_IV_SIZE + GW_AES_TAG_SIZE)

/* Item i's length: lens[i], or the one length every item has when lens is NULL. */
static inline size_t item_len(const size_t *lens, size_t uniform_len, size_t i)
{
    return lens != NULL ? lens[i] : uniform_len;
}

/* Sum of the packed item sizes into *total; 0 on size_t overflow. */
static int packed_size(size_t n, const size_t *prefix_lens, size_t prefix_len,
                       const size_t *pt_lens, size_t pt_len, size_t *total)
{
    size_t sum = 0;

    for (size_t i = 0; i < n; i++) {
        size_t plen = item_len(prefix_lens, prefix_len, i);
        size_t item = plen + item_len(pt_lens, pt_len, i);
        if (item < plen || item > SIZE_MAX - GW_AES_OVERHEAD)
            return 0;
        item += GW_AES_OVERHEAD;
        if (sum > SIZE_MAX - item)
            return 0;
        sum += item;
    }
    *total = sum;
    return 1;
}

/*
 * ivs == NULL: draw the IVs with one RAND_bytes call into the last n * 12
 * bytes of the output ("the pool") and move each into place just before its
 * item is written. Writing item i never reaches pool slot i + 1: every later
 * item takes at least 28 bytes but needs only 12 of pool, so item i ends at or
 * before total - 12 * (n - 1 - i), which is where slot i + 1 starts. Slot i
 * itself may lie inside item i, hence memmove, done before anything else of
 * item i is written.
 */
static int seal_packed(const uint8_t *key, size_t n, const uint8_t *ivs,
                       const uint8_t *prefixes, const size_t *prefix_lens, size_t prefix_len,
                       const uint8_t *pts, const size_t *pt_lens, size_t pt_len,
                       const uint8_t *aads, const size_t *aad_lens, size_t aad_len,
                       uint8_t *out, size_t out_cap)
{
    EVP_CIPHER_CTX *ctx;
    const uint8_t *pool;
    size_t total;
    int failed = 0;

    if (n == 0)
        return GW_OK;
    if (n > (size_t)INT_MAX / GW_AES_IV_SIZE
        || !packed_size(n, prefix_lens, prefix_len, pt_lens, pt_len, &total) || total > out_cap)
        return GW_ERR_ARGUMENT;
    ctx = gcm_ctx_new(key, 1);
    if (ctx == NULL)
        return GW_ERR_INTERNAL;
    pool = ivs;
    if (ivs == NULL) {
        uint8_t *tail = out + total - n * GW_AES_IV_SIZE;
        if (RAND_bytes(tail, (int)(n * GW_AES_IV_SIZE)) != 1) {
            EVP_CIPHER_CTX_free(ctx);
            ERR_clear_error();
            return GW_ERR_RAND;
        }
        pool = tail;
    }
    for (size_t i = 0; i < n; i++) {
        size_t plen = item_len(prefix_lens, prefix_len, i);
        size_t len = item_len(pt_lens, pt_len, i);
        size_t alen = item_len(aad_lens, aad_len, i);
        uint8_t *iv = out + plen;
        memmove(iv, pool + i * GW_AES_IV_SIZE, GW_AES_IV_SIZE);
        if (plen > 0)
            memcpy(out, prefixes, plen);
        failed |= !seal_one(ctx, iv, aads, alen, pts, len, iv + GW_AES_IV_SIZE,
                            iv + GW_AES_IV_SIZE + len);
        out = iv + GW_AES_OVERHEAD + len;
        if (prefix_lens != NULL)
            prefixes += plen;
        pts += len;
        aads += alen;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (failed) {
        ERR_clear_error();
        return GW_ERR_INTERNAL;
    }
    return GW_OK;
}

int gw_aes_gcm_seal_packed(const uint8_t *key, size_t n,
                           const uint8_t *prefixes, const size_t *prefix_lens, size_t prefix_len,
                           const uint8_t *pts, const size_t *pt_lens, size_t pt_len,
                           const uint8_t *aads, const size_t *aad_lens, size_t aad_len,
                           uint8_t *out, size_t out_cap)
{
    return seal_packed(key, n, NULL, prefixes, prefix_lens, prefix_len, pts, pt_lens, pt_len,
                       aads, aad_lens, aad_len, out, out_cap);
}

int gw_aes_gcm_seal_packed_with_ivs(const uint8_t *key, size_t n, const uint8_t *ivs,
                                    const uint8_t *prefixes, const size_t *prefix_lens,
                                    size_t prefix_len,
                                    const uint8_t *pts, const size_t *pt_lens, size_t pt_len,
                                    const uint8_t *aads, const size_t *aad_lens, size_t aad_len,
                                    uint8_t *out, size_t out_cap)
{
    if (n > 0 && ivs == NULL)
        return GW_ERR_ARGUMENT;
    return seal_packed(key, n, ivs, prefixes, prefix_lens, prefix_len, pts, pt_lens, pt_len,
                       aads, aad_lens, aad_len, out, out_cap);
}

/*
 * Open one item with a context from gcm_ctx_new(key, 0). On failure the plaintext
 * bytes are zeroed: unauthenticated plaintext is never handed back.
 */
static int open_one(EVP_CIPHER_CTX *ctx, const uint8_t *iv, const uint8_t *tag,
                    const uint8_t *aad, size_t aad_len,
                    const uint8_t *ct, size_t ct_len, uint8_t *pt_out)
{
    uint8_t scratch[16];
    int outl = 0;
    int ok = EVP_DecryptInit_ex2(ctx, NULL, NULL, iv, NULL)
             && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, GW_AES_TAG_SIZE,
                                    (void *)tag) > 0
             && cipher_update(ctx, NULL, aad, aad_len)
             && cipher_update(ctx, pt_out, ct, ct_len)
             && EVP_DecryptFinal_ex(ctx, scratch, &outl) > 0;
    if (!ok)
        OPENSSL_cleanse(pt_out, ct_len);
    return ok;
}

int gw_aes_gcm_open(const uint8_t *key, size_t n, const uint8_t *ivs,
                    const uint8_t *cts, const size_t *ct_lens,
                    const uint8_t *tags,
                    const uint8_t *aads, const size_t *aad_lens,
                    uint8_t *pt_out, uint8_t *status)
{
    EVP_CIPHER_CTX *ctx;
    int failed = 0;

    if (n == 0)
        return GW_OK;
    ctx = gcm_ctx_new(key, 0);
    if (ctx == NULL)
        return GW_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        int ok = open_one(ctx, ivs + i * GW_AES_IV_SIZE, tags + i * GW_AES_TAG_SIZE,
                          aads, aad_lens[i], cts, ct_lens[i], pt_out);
        failed |= !ok;
        status[i] = ok ? GW_OK : GW_ITEM_AUTH_FAILED;
        aads += aad_lens[i];
        cts += ct_lens[i];
        pt_out += ct_lens[i];
    }
    EVP_CIPHER_CTX_free(ctx);
    if (failed)
        ERR_clear_error();
    return GW_OK;
}

/* Sum of the plaintext sizes of packed items into *total; 0 if an item is too short. */
static int opened_size(size_t n, size_t skip, const size_t *item_lens, size_t item_size,
                       size_t *total)
{
    size_t sum = 0;

    if (skip > SIZE_MAX - GW_AES_OVERHEAD)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = item_len(item_lens, item_size, i);
        if (len < skip + GW_AES_OVERHEAD)
            return 0;
        sum += len - skip - GW_AES_OVERHEAD; /* no overflow: bounded by the input's size */
    }
    *total = sum;
    return 1;
}

int gw_aes_gcm_open_packed(const uint8_t *key, size_t n, size_t skip,
                           const uint8_t *items, const size_t *item_lens, size_t item_size,
                           const uint8_t *aads, const size_t *aad_lens, size_t aad_len,
                           uint8_t *pt_out, size_t pt_cap, uint8_t *status)
{
    EVP_CIPHER_CTX *ctx;
    size_t total;
    int failed = 0;

    if (n == 0)
        return GW_OK;
    if (!opened_size(n, skip, item_lens, item_size, &total) || total > pt_cap)
        return GW_ERR_ARGUMENT;
    ctx = gcm_ctx_new(key, 0);
    if (ctx == NULL)
        return GW_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        size_t len = item_len(item_lens, item_size, i);
        size_t alen = item_len(aad_lens, aad_len, i);
        size_t ct_len = len - skip - GW_AES_OVERHEAD;
        const uint8_t *iv = items + skip;
        const uint8_t *ct = iv + GW_AES_IV_SIZE;
        int ok = open_one(ctx, iv, ct + ct_len, aads, alen, ct, ct_len, pt_out);
        failed |= !ok;
        status[i] = ok ? GW_OK : GW_ITEM_AUTH_FAILED;
        items += len;
        aads += alen;
        pt_out += ct_len;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (failed)
        ERR_clear_error();
    return GW_OK;
}

int gw_digest_batch(int bits, size_t n, const uint8_t *msgs, const size_t *lens,
                    uint8_t *out)
{
    const EVP_MD *md;
    EVP_MD_CTX *ctx;
    size_t dlen;
    int rc = GW_OK;

    if (n == 0)
        return GW_OK;
    if (!algs_ready())
        return GW_ERR_INTERNAL;
    if (bits == 256)
        md = sha256;
    else if (bits == 384)
        md = sha384;
    else
        return GW_ERR_ARGUMENT;
    dlen = (size_t)bits / 8;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return GW_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, msgs, lens[i])
            || !EVP_DigestFinal_ex(ctx, out + i * dlen, NULL)) {
            rc = GW_ERR_INTERNAL;
            ERR_clear_error();
            break;
        }
        msgs += lens[i];
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Takes ownership of pkey. Accepts only P-256 and P-384 EC keys. */
static gw_ec_key *wrap_ec_key(EVP_PKEY *pkey, int is_private, int *err)
{
    char group[64];
    size_t group_len = 0;
    int bits;
    gw_ec_key *key;

    if (!EVP_PKEY_is_a(pkey, "EC")
        || !EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len)) {
        *err = GW_ERR_UNSUPPORTED;
        goto fail;
    }
    if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
        bits = 256;
    } else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
        bits = 384;
    } else {
        *err = GW_ERR_UNSUPPORTED;
        goto fail;
    }
    key = OPENSSL_zalloc(sizeof(*key));
    if (key == NULL) {
        *err = GW_ERR_INTERNAL;
        goto fail;
    }
    key->pkey = pkey;
    key->bits = bits;
    key->is_private = is_private;
    key->max_sig = (size_t)EVP_PKEY_get_size(pkey);
    *err = GW_OK;
    return key;
fail:
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return NULL;
}

gw_ec_key *gw_ec_load_private_pkcs8(const uint8_t *der, size_t len, int *err)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8;
    EVP_PKEY *pkey;

    if (len == 0 || len > LONG_MAX) {
        *err = GW_ERR_DECODE;
        return NULL;
    }
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 == NULL || p != der + len) {
        PKCS8_PRIV_KEY_INFO_free(p8);
        ERR_clear_error();
        *err = GW_ERR_DECODE;
        return NULL;
    }
    pkey = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (pkey == NULL) {
        ERR_clear_error();
        *err = GW_ERR_DECODE;
        return NULL;
    }
    return wrap_ec_key(pkey, 1, err);
}

gw_ec_key *gw_ec_load_public_spki(const uint8_t *der, size_t len, int *err)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey;

    if (len == 0 || len > LONG_MAX) {
        *err = GW_ERR_DECODE;
        return NULL;
    }
    pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (pkey == NULL || p != der + len) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        *err = GW_ERR_DECODE;
        return NULL;
    }
    return wrap_ec_key(pkey, 0, err);
}

gw_ec_key *gw_ec_generate(int bits, int *err)
{
    EVP_PKEY *pkey;

    if (bits != 256 && bits != 384) {
        *err = GW_ERR_UNSUPPORTED;
        return NULL;
    }
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", bits == 256 ? "P-256" : "P-384");
    if (pkey == NULL) {
        ERR_clear_error();
        *err = GW_ERR_INTERNAL;
        return NULL;
    }
    return wrap_ec_key(pkey, 1, err);
}

void gw_ec_free(gw_ec_key *key)
{
    if (key == NULL)
        return;
    gw_nonce_signing_key_free(key->nonce_key);
    EVP_PKEY_free(key->pkey);
    OPENSSL_free(key);
}

int gw_ec_bits(const gw_ec_key *key) { return key->bits; }
int gw_ec_is_private(const gw_ec_key *key) { return key->is_private; }
size_t gw_ec_max_sig_size(const gw_ec_key *key) { return key->max_sig; }

long gw_ec_export_spki(const gw_ec_key *key, uint8_t *out, size_t cap)
{
    unsigned char *p = out;
    int len = i2d_PUBKEY(key->pkey, NULL);

    if (len <= 0) {
        ERR_clear_error();
        return GW_ERR_INTERNAL;
    }
    if (out == NULL)
        return len;
    if (cap < (size_t)len)
        return GW_ERR_ARGUMENT;
    if (i2d_PUBKEY(key->pkey, &p) != len) {
        ERR_clear_error();
        return GW_ERR_INTERNAL;
    }
    return len;
}

long gw_ec_export_pkcs8(const gw_ec_key *key, uint8_t *out, size_t cap)
{
    PKCS8_PRIV_KEY_INFO *p8;
    unsigned char *p = out;
    int len;

    if (!key->is_private)
        return GW_ERR_ARGUMENT;
    p8 = EVP_PKEY2PKCS8(key->pkey);
    if (p8 == NULL) {
        ERR_clear_error();
        return GW_ERR_INTERNAL;
    }
    len = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
    if (len <= 0) {
        len = GW_ERR_INTERNAL;
    } else if (out != NULL) {
        if (cap < (size_t)len)
            len = GW_ERR_ARGUMENT;
        else if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) <= 0)
            len = GW_ERR_INTERNAL;
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (len < 0)
        ERR_clear_error();
    return len;
}

/*
 * The legacy key the nonce pools sign with, made at the key's first signature while they
 * run: with pools off (the default) no second copy of the private key is ever made. The
 * field is a cache set once; of two threads racing to set it, the loser frees its copy.
 */
static EC_KEY *nonce_key_of(const gw_ec_key *key)
{
    gw_ec_key *cache = (gw_ec_key *)key;
    EC_KEY *have = __atomic_load_n(&cache->nonce_key, __ATOMIC_ACQUIRE);
    if (have != NULL || !key->is_private || !gw_nonce_pools_running())
        return have;
    EC_KEY *made = gw_nonce_signing_key(key->pkey);
    if (made != NULL
        && !__atomic_compare_exchange_n(&cache->nonce_key, &have, made, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
        gw_nonce_signing_key_free(made);
        return have;
    }
    return made;
}

int gw_ec_sign(const gw_ec_key *key, size_t n, const uint8_t *digests, size_t dlen,
               uint8_t *sigs_out, size_t sig_stride, size_t *sig_lens, int *status)
{
    EVP_PKEY_CTX *ctx;
    int failed = 0;

    if (n == 0)
        return GW_OK;
    if (!key->is_private || dlen != (size_t)key->bits / 8 || sig_stride < key->max_sig)
        return GW_ERR_ARGUMENT;
    /* One context per batch: the provider key lookup and init happen once. */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (ctx == NULL)
        return GW_ERR_INTERNAL;
    if (EVP_PKEY_sign_init(ctx) <= 0) {
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        return GW_ERR_INTERNAL;
    }
    EC_KEY *nonce_key = nonce_key_of(key);
    for (size_t i = 0; i < n; i++) {
        size_t sig_len = sig_stride;
        if (gw_nonce_sign(nonce_key, key->bits, digests + i * dlen, dlen,
                          sigs_out + i * sig_stride, sig_stride, &sig_len)
            || EVP_PKEY_sign(ctx, sigs_out + i * sig_stride, &sig_len, digests + i * dlen,
                             dlen) == 1) {
            sig_lens[i] = sig_len;
            status[i] = GW_OK;
        } else {
            sig_lens[i] = 0;
            status[i] = GW_ERR_INTERNAL;
            failed = 1;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    if (failed)
        ERR_clear_error();
    return GW_OK;
}

int gw_ec_verify(const gw_ec_key *key, size_t n, const uint8_t *digests, size_t dlen,
                 const uint8_t *sigs, const size_t *sig_lens, int *results)
{
    EVP_PKEY_CTX *ctx;

    if (n == 0)
        return GW_OK;
    if (dlen != (size_t)key->bits / 8)
        return GW_ERR_ARGUMENT;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (ctx == NULL)
        return GW_ERR_INTERNAL;
    if (EVP_PKEY_verify_init(ctx) <= 0) {
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        return GW_ERR_INTERNAL;
    }
    for (size_t i = 0; i < n; i++) {
        /* OpenSSL re-encodes the parsed signature and rejects non-DER input. */
        results[i] = EVP_PKEY_verify(ctx, sigs, sig_lens[i], digests + i * dlen, dlen) == 1;
        sigs += sig_lens[i];
    }
    EVP_PKEY_CTX_free(ctx);
    /* Malformed signatures leave decode errors on this thread's queue. */
    ERR_clear_error();
    return GW_OK;
}
