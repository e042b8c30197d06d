/*
 * The hashing half of SigV4 verification: body hash, canonical-request hash,
 * HMAC of the string to sign, constant-time compare. All hashing is OpenSSL's
 * (EVP SHA-256, EVP_MAC HMAC); parsing and canonicalisation stay in Python
 * (gateway/protocol/sigv4.py), which hands in the assembled text.
 */
#include "gateway_native.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

/*
 * Fetched once and shared read-only by all threads: a SHA-256 digest and an
 * HMAC context already set to SHA-256, duplicated per call so no call pays
 * for the by-name digest lookup that EVP_MAC_init with parameters does.
 */
static CRYPTO_ONCE sigv4_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *sigv4_sha256;
static EVP_MAC_CTX *hmac_sha256_template;

static void sigv4_init(void)
{
    sigv4_sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        return;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
    if (ctx == NULL)
        return;
    char digest[] = "SHA2-256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(ctx, params)) {
        EVP_MAC_CTX_free(ctx);
        return;
    }
    hmac_sha256_template = ctx;
}

static int sigv4_ready(void)
{
    return CRYPTO_THREAD_run_once(&sigv4_once, sigv4_init) && sigv4_sha256 != NULL
           && hmac_sha256_template != NULL;
}

static void to_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
}

/* hex(SHA-256(a || b)) into hex_out, reusing ctx; b may be empty. */
static int sha256_hex(EVP_MD_CTX *ctx, const uint8_t *a, size_t a_len, const uint8_t *b,
                      size_t b_len, char *hex_out)
{
    uint8_t md[SHA256_LEN];
    if (!EVP_DigestInit_ex(ctx, sigv4_sha256, NULL) || !EVP_DigestUpdate(ctx, a, a_len)
        || (b_len != 0 && !EVP_DigestUpdate(ctx, b, b_len)) || !EVP_DigestFinal_ex(ctx, md, NULL))
        return 0;
    to_hex(md, SHA256_LEN, hex_out);
    return 1;
}

/*
 * One digest context and one HMAC context per thread, re-initialised on every call: with
 * OpenSSL 3 allocating and freeing them costs as much as hashing a request. A thread's
 * contexts live as long as the thread (the gateway calls this from its event-loop thread).
 */
static __thread EVP_MD_CTX *thread_md_ctx;
static __thread EVP_MAC_CTX *thread_mac_ctx;

static EVP_MD_CTX *md_ctx(void)
{
    if (thread_md_ctx == NULL)
        thread_md_ctx = EVP_MD_CTX_new();
    return thread_md_ctx;
}

static EVP_MAC_CTX *mac_ctx(void)
{
    if (thread_mac_ctx == NULL)
        thread_mac_ctx = EVP_MAC_CTX_dup(hmac_sha256_template);
    return thread_mac_ctx;
}

/* hex(HMAC-SHA-256(key, a || b)). */
static int hmac_sha256_hex(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len,
                           const uint8_t *b, size_t b_len, char *hex_out)
{
    uint8_t mac[SHA256_LEN];
    size_t mac_len = 0;
    EVP_MAC_CTX *ctx = mac_ctx();
    int ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, NULL)
             && EVP_MAC_update(ctx, a, a_len) && EVP_MAC_update(ctx, b, b_len)
             && EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) && mac_len == SHA256_LEN;
    if (ok)
        to_hex(mac, SHA256_LEN, hex_out);
    return ok;
}

int gw_sigv4_check(const uint8_t *signing_key, size_t key_len,
                   const uint8_t *canonical_head, size_t head_len,
                   const uint8_t *body, size_t body_len,
                   const uint8_t *declared, size_t declared_len,
                   const uint8_t *sts_head, size_t sts_len,
                   const uint8_t *provided, size_t provided_len)
{
    if (signing_key == NULL || key_len == 0 || canonical_head == NULL || sts_head == NULL
        || provided == NULL || (body == NULL && body_len != 0))
        return GW_ERR_ARGUMENT;
    if (!sigv4_ready())
        return GW_ERR_INTERNAL;

    char body_hash[SHA256_HEX_LEN];
    char request_hash[SHA256_HEX_LEN];
    EVP_MD_CTX *ctx = md_ctx();
    if (ctx == NULL
        || !sha256_hex(ctx, body == NULL ? (const uint8_t *)"" : body, body_len, NULL, 0,
                       body_hash))
        return GW_ERR_INTERNAL;
    /* The SDKs sign the declared hash; unless it is the body's own, the body is unsigned. */
    if (declared != NULL
        && (declared_len != SHA256_HEX_LEN
            || CRYPTO_memcmp(declared, body_hash, SHA256_HEX_LEN) != 0))
        return GW_SIGV4_MISMATCH;
    if (!sha256_hex(ctx, canonical_head, head_len, (const uint8_t *)body_hash, SHA256_HEX_LEN,
                    request_hash))
        return GW_ERR_INTERNAL;

    char expected[SHA256_HEX_LEN];
    if (!hmac_sha256_hex(signing_key, key_len, sts_head, sts_len,
                         (const uint8_t *)request_hash, SHA256_HEX_LEN, expected))
        return GW_ERR_INTERNAL;
    if (provided_len != SHA256_HEX_LEN)
        return GW_SIGV4_MISMATCH;
    return CRYPTO_memcmp(provided, expected, SHA256_HEX_LEN) == 0 ? GW_SIGV4_MATCH
                                                                  : GW_SIGV4_MISMATCH;
}
