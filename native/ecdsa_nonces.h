/*
 * Internal to the native core: the signing side of the precomputed ECDSA
 * nonce pools (ecdsa_nonces.c), used by gw_ec_sign. The pools' public
 * controls (start, stop, stats) are declared in gateway_native.h.
 */
#ifndef GATEWAY_ECDSA_NONCES_H
#define GATEWAY_ECDSA_NONCES_H

#include "gateway_native.h"

#include <openssl/types.h>

/* Whether the pools are started: only then is a key's legacy copy worth making. */
int gw_nonce_pools_running(void);

/* The legacy key ECDSA_do_sign_ex needs, a copy of the private key; NULL if OpenSSL
 * cannot provide one (signatures then take the EVP path). */
EC_KEY *gw_nonce_signing_key(EVP_PKEY *pkey);
void gw_nonce_signing_key_free(EC_KEY *key);

/*
 * Sign digest with a precomputed pair from the pool of the key's curve (bits
 * 256 or 384), writing DER to sig_out (cap bytes). Returns 1 if it signed, 0
 * if it did not (pools not started or empty, or any error): the caller then
 * signs with EVP as usual.
 */
int gw_nonce_sign(EC_KEY *key, int bits, const uint8_t *digest, size_t dlen, uint8_t *sig_out,
                  size_t cap, size_t *sig_len);

#endif /* GATEWAY_ECDSA_NONCES_H */
