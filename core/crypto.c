/*
 * crypto.c - hashes, sealed values, blind indexes and the keyring (see
 * crypto.h).
 */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEYS 64
#define NONCE_BYTES 12
#define TAG_BYTES 16

typedef struct master_key {
    int id;
    uint8_t key[BO_KEY_BYTES];
    uint8_t seal_key[BO_KEY_BYTES];    /* derived once, at load: "field encryption" */
    /* HMAC-SHA-256 under the "blind index" key with its padded key blocks
       already absorbed: an index costs two SHA-256 blocks, not four. */
    mbedtls_sha256_context index_inner, index_outer;
} master_key;

static void derive(const master_key *m, const char *purpose, uint8_t out[BO_KEY_BYTES]);

struct bo_keyring {
    master_key keys[MAX_KEYS];
    int count;
};

int bo_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return BO_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

void bo_sha256(const void *data, size_t n, uint8_t out[32])
{
    mbedtls_sha256_ret(data, n, out, 0);
}

void bo_hmac_sha256(const uint8_t *key, size_t klen, const void *data, size_t n, uint8_t out[32])
{
    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, klen, data, n, out);
}

bool bo_equal_ct(const void *a, const void *b, size_t n)
{
    return mbedtls_ct_memcmp(a, b, n) == 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t bo_base64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

size_t bo_base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t written = 0;
    /* The caller gives the room the header asks for, so it cannot fail. */
    mbedtls_base64_encode((unsigned char *)out, (n + 2) / 3 * 4 + 1, &written, in, n);
    out[written] = '\0';
    return written;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long bo_base64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, so each value has one encoding. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (long)o;
}

void bo_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- the keyring ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_keyring(bo_keyring *k, const char *text, const char *where, char *err, size_t errlen)
{
    int line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && p[0] != '#') {
            int id, used = 0;
            if (sscanf(p, "%d %n", &id, &used) != 1 || id <= 0 || n - (size_t)used < 2 * BO_KEY_BYTES) {
                snprintf(err, errlen, "%s:%d: expected \"<id> <64 hex digits>\"", where, line);
                return BO_EINVAL;
            }
            if (k->count == MAX_KEYS) {
                snprintf(err, errlen, "%s:%d: more than %d keys", where, line, MAX_KEYS);
                return BO_ELIMIT;
            }
            master_key *m = &k->keys[k->count];
            m->id = id;
            for (int i = 0; i < BO_KEY_BYTES; i++) {
                int hi = hexval(p[used + 2 * i]), lo = hexval(p[used + 2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    snprintf(err, errlen, "%s:%d: the key is not 64 hex digits", where, line);
                    return BO_EINVAL;
                }
                m->key[i] = (uint8_t)(hi << 4 | lo);
            }
            for (int i = 0; i < k->count; i++)
                if (k->keys[i].id == id) {
                    snprintf(err, errlen, "%s:%d: key id %d appears twice", where, line, id);
                    return BO_EINVAL;
                }
            k->count++;
        }
        p += n + (end ? 1 : 0);
    }
    if (k->count == 0) {
        snprintf(err, errlen, "%s: no keys", where);
        return BO_EINVAL;
    }
    for (int i = 0; i < k->count; i++) {
        master_key *m = &k->keys[i];
        derive(m, "field encryption", m->seal_key);
        uint8_t index_key[BO_KEY_BYTES], pad[64];
        derive(m, "blind index", index_key);
        for (int j = 0; j < 2; j++) {
            mbedtls_sha256_context *c = j == 0 ? &m->index_inner : &m->index_outer;
            memset(pad, j == 0 ? 0x36 : 0x5c, sizeof pad);
            for (int b = 0; b < BO_KEY_BYTES; b++)
                pad[b] ^= index_key[b];
            mbedtls_sha256_init(c);
            mbedtls_sha256_starts_ret(c, 0);
            mbedtls_sha256_update_ret(c, pad, sizeof pad);
        }
        mbedtls_platform_zeroize(index_key, sizeof index_key);
        mbedtls_platform_zeroize(pad, sizeof pad);
    }
    return 0;
}

static char *keys_path(const char *data_dir)
{
    return bo_sprintf("%s/keys", data_dir);
}

/* Appends one new key line to path (creating it 0600). */
static int append_key(const char *path, int id, char *err, size_t errlen)
{
    uint8_t key[BO_KEY_BYTES];
    char hex[2 * BO_KEY_BYTES + 1];
    if (bo_random(key, sizeof key) < 0) {
        snprintf(err, errlen, "no randomness from the kernel");
        return BO_EIO;
    }
    bo_hex(key, sizeof key, hex);
    mbedtls_platform_zeroize(key, sizeof key);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return BO_EIO;
    }
    char line[100];
    int n = snprintf(line, sizeof line, "%d %s\n", id, hex);
    mbedtls_platform_zeroize(hex, sizeof hex);
    bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    mbedtls_platform_zeroize(line, sizeof line);
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return BO_EIO;
    }
    return 0;
}

static int read_all(const char *path, char **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return errno == ENOENT ? BO_ENOENT : BO_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s must be readable by its owner only (chmod 600 %s)", path, path);
        close(fd);
        return BO_EPERM;
    }
    bo_buf b;
    bo_buf_init(&b);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        bo_buf_append(&b, chunk, (size_t)n);
    close(fd);
    bo_buf_putc(&b, '\0');
    *out = b.data;
    return 0;
}

int bo_keyring_load(bo_keyring **out, const char *data_dir, bool create, char *err, size_t errlen)
{
    *out = NULL;
    bo_keyring *k = bo_calloc(1, sizeof *k);
    const char *env = getenv("BOROUGH_KEYS");
    int rc;
    if (env && *env) {
        rc = parse_keyring(k, env, "BOROUGH_KEYS", err, errlen);
    } else {
        char *path = keys_path(data_dir), *text = NULL;
        rc = read_all(path, &text, err, errlen);
        if (rc == BO_ENOENT && create) {
            rc = append_key(path, 1, err, errlen);
            if (rc == 0)
                rc = read_all(path, &text, err, errlen);
        }
        if (rc == 0)
            rc = parse_keyring(k, text, path, err, errlen);
        if (text) {
            mbedtls_platform_zeroize(text, strlen(text));
            free(text);
        }
        free(path);
    }
    if (rc < 0) {
        bo_keyring_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void bo_keyring_free(bo_keyring *k)
{
    if (!k)
        return;
    mbedtls_platform_zeroize(k, sizeof *k);
    free(k);
}

int bo_keyring_rotate(const char *data_dir, int *id, char *err, size_t errlen)
{
    bo_keyring *k;
    int rc = bo_keyring_load(&k, data_dir, true, err, errlen);
    if (rc < 0)
        return rc;
    if (getenv("BOROUGH_KEYS") && *getenv("BOROUGH_KEYS")) {
        bo_keyring_free(k);
        snprintf(err, errlen, "the keys come from BOROUGH_KEYS: add a line there instead");
        return BO_EINVAL;
    }
    int next = 0;
    for (int i = 0; i < k->count; i++)
        if (k->keys[i].id > next)
            next = k->keys[i].id;
    bo_keyring_free(k);
    char *path = keys_path(data_dir);
    rc = append_key(path, next + 1, err, errlen);
    free(path);
    if (rc == 0 && id)
        *id = next + 1;
    return rc;
}

int bo_keyring_current(const bo_keyring *k)
{
    return k->keys[k->count - 1].id;
}

int bo_keyring_count(const bo_keyring *k)
{
    return k->count;
}

int bo_keyring_id(const bo_keyring *k, int i)
{
    return k->keys[i].id;
}

int bo_sealed_key_id(const char *sealed, size_t len)
{
    int id = 0;
    size_t i = 4;
    if (len < 6 || memcmp(sealed, "bo1.", 4) != 0)
        return -1;
    for (; i < len && sealed[i] >= '0' && sealed[i] <= '9' && id < 100000000; i++)
        id = id * 10 + (sealed[i] - '0');
    return i > 4 && i < len && sealed[i] == '.' ? id : -1;
}

typedef struct shared_ring {
    char *data_dir;
    bo_keyring *keys;
    struct shared_ring *next;
} shared_ring;

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static shared_ring *shared_rings;

const bo_keyring *bo_keyring_shared(const char *data_dir, char *err, size_t errlen)
{
    pthread_mutex_lock(&shared_lock);
    shared_ring *r = shared_rings;
    while (r && strcmp(r->data_dir, data_dir) != 0)
        r = r->next;
    if (!r) {
        bo_keyring *k;
        if (bo_keyring_load(&k, data_dir, true, err, errlen) == 0) {
            r = bo_calloc(1, sizeof *r);
            r->data_dir = bo_strdup(data_dir);
            r->keys = k;
            r->next = shared_rings;
            shared_rings = r;
        }
    }
    pthread_mutex_unlock(&shared_lock);
    return r ? r->keys : NULL;
}

static void derive(const master_key *m, const char *purpose, uint8_t out[BO_KEY_BYTES])
{
    static const uint8_t salt[] = "borough key derivation v1";
    mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), salt, sizeof salt - 1, m->key,
                 BO_KEY_BYTES, (const uint8_t *)purpose, strlen(purpose), out, BO_KEY_BYTES);
}

void bo_keyring_derive(const bo_keyring *k, const char *purpose, uint8_t out[BO_KEY_BYTES])
{
    derive(&k->keys[k->count - 1], purpose, out);
}

/* ---- sealed values ---- */

char *bo_seal(const bo_keyring *k, const char *aad, const void *plain, size_t n)
{
    const master_key *m = &k->keys[k->count - 1];
    size_t raw_len = NONCE_BYTES + n + TAG_BYTES;
    uint8_t *raw = bo_malloc(raw_len);
    if (bo_random(raw, NONCE_BYTES) < 0)
        abort();   /* no randomness: nothing may be sealed with a repeated nonce */
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, m->seal_key, 256);
    mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, n, raw, NONCE_BYTES, (const uint8_t *)aad,
                              strlen(aad), plain, raw + NONCE_BYTES, TAG_BYTES, raw + NONCE_BYTES + n);
    mbedtls_gcm_free(&gcm);
    char *text = bo_malloc(32 + (raw_len * 4 + 2) / 3 + 1);
    int prefix = sprintf(text, "bo1.%d.", m->id);
    bo_base64url_encode(raw, raw_len, text + prefix);
    free(raw);
    return text;
}

int bo_unseal(const bo_keyring *k, const char *aad, const char *sealed, size_t len, bo_buf *out,
              char *err, size_t errlen)
{
    int id, used = 0;
    if (len < 6 || strncmp(sealed, "bo1.", 4) != 0 || sscanf(sealed + 4, "%d.%n", &id, &used) != 1 ||
        used == 0) {
        snprintf(err, errlen, "not a sealed value");
        return BO_EINVAL;
    }
    const master_key *m = NULL;
    for (int i = 0; i < k->count; i++)
        if (k->keys[i].id == id)
            m = &k->keys[i];
    if (!m) {
        snprintf(err, errlen, "sealed with key %d, which is not in the keyring", id);
        return BO_EPERM;
    }
    const char *b = sealed + 4 + used;
    size_t blen = len - 4 - (size_t)used;
    uint8_t *raw = bo_malloc(blen);
    long raw_len = bo_base64url_decode(b, blen, raw, blen);
    if (raw_len < NONCE_BYTES + TAG_BYTES) {
        free(raw);
        snprintf(err, errlen, "not a sealed value");
        return BO_EINVAL;
    }
    size_t n = (size_t)raw_len - NONCE_BYTES - TAG_BYTES;
    char *plain = bo_buf_reserve(out, n + 1);
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, m->seal_key, 256);
    int rc = mbedtls_gcm_auth_decrypt(&gcm, n, raw, NONCE_BYTES, (const uint8_t *)aad, strlen(aad),
                                      raw + NONCE_BYTES + n, TAG_BYTES, raw + NONCE_BYTES, (uint8_t *)plain);
    mbedtls_gcm_free(&gcm);
    free(raw);
    if (rc != 0) {
        mbedtls_platform_zeroize(plain, n);
        snprintf(err, errlen, "the sealed value does not open (wrong key or place, or altered)");
        return BO_EPERM;
    }
    out->len += n;
    return 0;
}

void bo_blind_index(const bo_keyring *k, const char *context, const void *value, size_t n,
                    char out[BO_BLIND_INDEX_CHARS + 1])
{
    /* HMAC(index key, context NUL value), from the key's absorbed pads. */
    const master_key *m = &k->keys[k->count - 1];
    uint8_t inner[32], mac[32];
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    mbedtls_sha256_clone(&c, &m->index_inner);
    mbedtls_sha256_update_ret(&c, (const uint8_t *)context, strlen(context) + 1);   /* with its NUL */
    mbedtls_sha256_update_ret(&c, value, n);
    mbedtls_sha256_finish_ret(&c, inner);
    mbedtls_sha256_clone(&c, &m->index_outer);
    mbedtls_sha256_update_ret(&c, inner, sizeof inner);
    mbedtls_sha256_finish_ret(&c, mac);
    mbedtls_sha256_free(&c);
    bo_base64url_encode(mac, 16, out);
}
