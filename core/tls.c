/*
 * tls.c - the TLS engine over mbedTLS 2.28 (see tls.h). The BIO callbacks
 * move ciphertext between mbedTLS and the engine's two buffers; nothing
 * here does I/O.
 */
#include "tls.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* A server's session cache (resumption by session id): mbedTLS keeps it as
   a list it walks on each lookup, so it is bounded; an hour keeps a
   session's secret in memory no longer than a browsing session needs. */
#define SESSION_CACHE_ENTRIES 10000
#define SESSION_CACHE_SECONDS 3600

struct bo_tls_config {
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context rng;
    mbedtls_x509_crt chain;          /* the server's chain, or the client's CAs */
    mbedtls_pk_context key;
    mbedtls_ssl_cache_context cache;
    bool server;
};

struct bo_tls {
    mbedtls_ssl_context ssl;
    bo_buf in;
    size_t in_off;                   /* bytes of in already given to mbedTLS */
    bo_buf out;
    bool established;
    char error[200];
};

/* Modern suites only: forward secrecy and AEAD. */
static int suites[16];
static const char *const suite_names[] = {
    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
    "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
    "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
    "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
    "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
};
static const mbedtls_ecp_group_id curves[] = {
    MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE
};
static const char *alpn[] = { "http/1.1", NULL };

static void describe(int rc, const char *what, char *err, size_t errlen)
{
    char text[160];
    mbedtls_strerror(rc, text, sizeof text);
    snprintf(err, errlen, "%s: %s", what, text);
}

/* The suite table is built once; every configuration shares it. */
static pthread_once_t suites_once = PTHREAD_ONCE_INIT;

static void init_suites(void)
{
    size_t n = 0;
    for (size_t i = 0; i < BO_COUNT(suite_names); i++) {
        int id = mbedtls_ssl_get_ciphersuite_id(suite_names[i]);
        if (id)
            suites[n++] = id;
    }
    suites[n] = 0;
}

static bo_tls_config *config_new(bool server, char *err, size_t errlen)
{
    static const char personal[] = "borough";
    bo_tls_config *c = bo_calloc(1, sizeof *c);
    c->server = server;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->rng);
    mbedtls_x509_crt_init(&c->chain);
    mbedtls_pk_init(&c->key);
    mbedtls_ssl_cache_init(&c->cache);
    int rc = mbedtls_ctr_drbg_seed(&c->rng, mbedtls_entropy_func, &c->entropy,
                                   (const unsigned char *)personal, sizeof personal - 1);
    if (rc == 0)
        rc = mbedtls_ssl_config_defaults(&c->conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        describe(rc, "TLS set-up", err, errlen);
        bo_tls_config_free(c);
        return NULL;
    }
    pthread_once(&suites_once, init_suites);
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->rng);
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&c->conf, suites);
    mbedtls_ssl_conf_curves(&c->conf, curves);
    mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_alpn_protocols(&c->conf, alpn);
    return c;
}

/* The high-level part of an mbedTLS error code (its module's error). */
static int high_level(int rc)
{
    return -(-rc & 0xFF80);
}

/* An elliptic-curve key parsed from a file signs through a copy of its
   curve made for each signature (mbedTLS 2.28's "EC key" type), so the
   table of multiples of the base point that speeds signing up is computed
   and thrown away at every full handshake: 1.6 ms a signature on P-256
   against 0.4 ms with the table kept. Holding the key as an "ECDSA" key
   signs with the key's own curve, which keeps its table; one signature
   here builds it before any worker thread shares the key (afterwards the
   table is only read). Other keys (RSA) are left as they are. */
static int keep_signing_table(bo_tls_config *c)
{
    if (mbedtls_pk_get_type(&c->key) != MBEDTLS_PK_ECKEY)
        return 0;
    mbedtls_pk_context ecdsa;
    mbedtls_pk_init(&ecdsa);
    int rc = mbedtls_pk_setup(&ecdsa, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA));
    if (rc == 0)
        rc = mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(ecdsa), mbedtls_pk_ec(c->key));
    unsigned char hash[32] = { 0 }, sig[MBEDTLS_ECDSA_MAX_LEN];
    size_t siglen;
    if (rc == 0)
        rc = mbedtls_pk_sign(&ecdsa, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &siglen,
                             mbedtls_ctr_drbg_random, &c->rng);
    if (rc != 0) {
        mbedtls_pk_free(&ecdsa);
        return rc;
    }
    mbedtls_pk_free(&c->key);
    c->key = ecdsa;              /* the configuration points at c->key, which stays where it is */
    return 0;
}

int bo_tls_config_server(bo_tls_config **out, const char *cert_file, const char *key_file,
                         char *err, size_t errlen)
{
    *out = NULL;
    bo_tls_config *c = config_new(true, err, errlen);
    if (!c)
        return BO_EIO;
    char what[300];
    int rc = mbedtls_x509_crt_parse_file(&c->chain, cert_file);
    if (rc != 0) {
        if (high_level(rc) == MBEDTLS_ERR_X509_INVALID_FORMAT) {
            snprintf(err, errlen, "the certificate %s: no certificate in it (PEM, -----BEGIN CERTIFICATE-----)",
                     cert_file);
        } else {
            snprintf(what, sizeof what, "the certificate %s", cert_file);
            describe(rc, what, err, errlen);
        }
        goto fail;
    }
    rc = mbedtls_pk_parse_keyfile(&c->key, key_file, NULL);
    if (rc != 0) {
        int high = high_level(rc);
        if (high == MBEDTLS_ERR_PK_KEY_INVALID_FORMAT || high == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG) {
            snprintf(err, errlen, "the key %s: no private key in it (PEM, -----BEGIN PRIVATE KEY-----)", key_file);
        } else if (high == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
            snprintf(err, errlen, "the key %s: it is encrypted; give it without a passphrase", key_file);
        } else {
            snprintf(what, sizeof what, "the key %s", key_file);
            describe(rc, what, err, errlen);
        }
        goto fail;
    }
    rc = mbedtls_pk_check_pair(&c->chain.pk, &c->key);
    if (rc == 0)
        rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->chain, &c->key);
    if (rc != 0) {
        snprintf(err, errlen, "the certificate %s and the key %s do not go together (the key is not the "
                 "certificate's)", cert_file, key_file);
        goto fail;
    }
    rc = keep_signing_table(c);
    if (rc != 0) {
        snprintf(what, sizeof what, "the key %s", key_file);
        describe(rc, what, err, errlen);
        goto fail;
    }
    mbedtls_ssl_cache_set_max_entries(&c->cache, SESSION_CACHE_ENTRIES);
    mbedtls_ssl_cache_set_timeout(&c->cache, SESSION_CACHE_SECONDS);
    mbedtls_ssl_conf_session_cache(&c->conf, &c->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
    *out = c;
    return 0;
fail:
    bo_tls_config_free(c);
    return BO_EINVAL;
}

int bo_tls_config_client(bo_tls_config **out, const char *ca_file, char *err, size_t errlen)
{
    *out = NULL;
    bo_tls_config *c = config_new(false, err, errlen);
    if (!c)
        return BO_EIO;
    const char *file = ca_file ? ca_file : SYSTEM_CA_FILE;
    int rc = mbedtls_x509_crt_parse_file(&c->chain, file);
    if (rc < 0) {                      /* > 0: some certificates were skipped */
        describe(rc, file, err, errlen);
        bo_tls_config_free(c);
        return BO_EINVAL;
    }
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->chain, NULL);
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    *out = c;
    return 0;
}

int64_t bo_tls_config_expiry(const bo_tls_config *c)
{
    if (!c->server || c->chain.version == 0)
        return 0;
    const mbedtls_x509_time *t = &c->chain.valid_to;
    struct tm tm = { .tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
                     .tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec };
    return (int64_t)timegm(&tm);
}

void bo_tls_config_free(bo_tls_config *c)
{
    if (!c)
        return;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_ssl_cache_free(&c->cache);
    mbedtls_pk_free(&c->key);
    mbedtls_x509_crt_free(&c->chain);
    mbedtls_ctr_drbg_free(&c->rng);
    mbedtls_entropy_free(&c->entropy);
    free(c);
}

/* ---- the memory BIO ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    bo_tls *t = ctx;
    bo_buf_append(&t->out, buf, len);
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    bo_tls *t = ctx;
    size_t avail = t->in.len - t->in_off;
    if (avail == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = avail < len ? avail : len;
    memcpy(buf, t->in.data + t->in_off, n);
    t->in_off += n;
    if (t->in_off == t->in.len) {
        t->in.len = 0;
        t->in_off = 0;
    }
    return (int)n;
}

bo_tls *bo_tls_new(bo_tls_config *cfg, const char *hostname, char *err, size_t errlen)
{
    bo_tls *t = bo_calloc(1, sizeof *t);
    mbedtls_ssl_init(&t->ssl);
    bo_buf_init(&t->in);
    bo_buf_init(&t->out);
    int rc = mbedtls_ssl_setup(&t->ssl, &cfg->conf);
    if (rc == 0 && hostname)
        rc = mbedtls_ssl_set_hostname(&t->ssl, hostname);
    if (rc != 0) {
        describe(rc, "TLS set-up", err, errlen);
        bo_tls_free(t);
        return NULL;
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    return t;
}

void bo_tls_free(bo_tls *t)
{
    if (!t)
        return;
    mbedtls_ssl_free(&t->ssl);
    bo_buf_free(&t->in);
    bo_buf_free(&t->out);
    free(t);
}

void bo_tls_feed(bo_tls *t, const char *data, size_t len)
{
    if (t->in_off > 0 && t->in_off == t->in.len) {
        t->in.len = 0;
        t->in_off = 0;
    }
    bo_buf_append(&t->in, data, len);
}

bo_buf *bo_tls_output(bo_tls *t)
{
    return &t->out;
}

/* Records why rc failed and maps it to a BO_E* code. */
static int fail(bo_tls *t, int rc)
{
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
        char info[160] = "";
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        size_t n = strlen(info);
        while (n && (info[n - 1] == '\n' || info[n - 1] == ' '))
            info[--n] = '\0';
        for (char *p = info; *p; p++)
            if (*p == '\n')
                *p = ';';
        snprintf(t->error, sizeof t->error, "certificate verification failed: %s", info);
        return BO_EPERM;
    }
    describe(rc, "TLS", t->error, sizeof t->error);
    return rc == MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN || rc == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION ||
                   rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || rc == MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE
               ? BO_EPERM
               : BO_EIO;
}

int bo_tls_handshake(bo_tls *t)
{
    if (t->established)
        return 1;
    int rc = mbedtls_ssl_handshake(&t->ssl);
    if (rc == 0) {
        t->established = true;
        return 1;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return 0;
    return fail(t, rc);
}

bool bo_tls_established(const bo_tls *t)
{
    return t->established;
}

long bo_tls_read(bo_tls *t, char *buf, size_t cap)
{
    int rc = mbedtls_ssl_read(&t->ssl, (unsigned char *)buf, cap);
    if (rc > 0)
        return rc;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return 0;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        snprintf(t->error, sizeof t->error, "the peer closed the TLS session");
        return BO_ECLOSED;
    }
    return fail(t, rc);
}

int bo_tls_write(bo_tls *t, const char *data, size_t len)
{
    while (len > 0) {
        int rc = mbedtls_ssl_write(&t->ssl, (const unsigned char *)data, len);
        if (rc < 0)
            return fail(t, rc);
        data += rc;
        len -= (size_t)rc;
    }
    return 0;
}

void bo_tls_close(bo_tls *t)
{
    mbedtls_ssl_close_notify(&t->ssl);
}

const char *bo_tls_error(const bo_tls *t)
{
    return t->error;
}

const char *bo_tls_version(const bo_tls *t)
{
    return t->established ? mbedtls_ssl_get_version(&t->ssl) : NULL;
}

const char *bo_tls_cipher(const bo_tls *t)
{
    return t->established ? mbedtls_ssl_get_ciphersuite(&t->ssl) : NULL;
}
