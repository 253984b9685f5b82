/*
 * csrf.c - signed double-submit CSRF tokens (see csrf.h).
 */
#include "csrf.h"
#include "crypto.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char key_bytes[BO_CSRF_KEY_BYTES];
static bool key_loaded;
static bool key_failed;

/* Random bytes or nothing at all: without randomness nothing secure can
   be made, so the process stops. */
static void random_or_abort(void *out, size_t n)
{
    if (bo_random(out, n) < 0) {
        bo_log(BO_LOG_ERROR, NULL, "getrandom: %s", strerror(errno));
        abort();
    }
}

int bo_csrf_key_load(const char *path, unsigned char key[BO_CSRF_KEY_BYTES], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        unsigned char fresh[BO_CSRF_KEY_BYTES];
        random_or_abort(fresh, sizeof fresh);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            ssize_t n = write(fd, fresh, sizeof fresh);
            bool ok = n == (ssize_t)sizeof fresh && fsync(fd) == 0;
            close(fd);
            if (!ok) {
                unlink(path);
                snprintf(err, errlen, "%s: cannot write the key: %s", path, strerror(errno));
                return BO_EIO;
            }
        } else if (errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot make the key: %s", path, strerror(errno));
            return BO_EIO;
        }
        /* Another process may have made it first: read whichever won. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return BO_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s: not a regular file", path);
        return BO_EPERM;
    }
    if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
        close(fd);
        snprintf(err, errlen, "%s: the key must belong to this user and be readable by it alone (chmod 600)", path);
        return BO_EPERM;
    }
    ssize_t n = read(fd, key, BO_CSRF_KEY_BYTES);
    char extra;
    bool exact = n == BO_CSRF_KEY_BYTES && read(fd, &extra, 1) == 0;
    close(fd);
    if (!exact) {
        snprintf(err, errlen, "%s: the key must be exactly %d bytes", path, BO_CSRF_KEY_BYTES);
        return BO_EPERM;
    }
    return 0;
}

const unsigned char *bo_csrf_key(const char *data_dir)
{
    pthread_mutex_lock(&key_lock);
    if (!key_loaded && !key_failed) {
        char *path = bo_sprintf("%s/csrf.key", data_dir);
        char err[512];
        if (bo_csrf_key_load(path, key_bytes, err, sizeof err) == 0) {
            key_loaded = true;
        } else {
            key_failed = true;
            bo_log(BO_LOG_ERROR, NULL, "%s: forms cannot be posted", err);
        }
        free(path);
    }
    pthread_mutex_unlock(&key_lock);
    return key_loaded ? key_bytes : NULL;
}

void bo_csrf_nonce(char out[BO_CSRF_NONCE_LEN + 1])
{
    unsigned char raw[BO_CSRF_NONCE_LEN / 2];
    random_or_abort(raw, sizeof raw);
    bo_hex(raw, sizeof raw, out);
}

bool bo_csrf_nonce_ok(const char *s, size_t n)
{
    if (n != BO_CSRF_NONCE_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* The MAC part of a token (32 hex digits and a NUL) into out. */
static void mac(const unsigned char *key, const char *nonce, const char *binding, int64_t t, char out[33])
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "borough-csrf%c%s%c%s%c%" PRId64, 0, nonce, 0, binding, 0, t);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = (int)sizeof msg - 1;     /* a binding that long is cut, on both sides alike */
    uint8_t digest[32];
    bo_hmac_sha256(key, BO_CSRF_KEY_BYTES, msg, (size_t)n, digest);
    bo_hex(digest, 16, out);
}

void bo_csrf_token(const unsigned char *key, const char *nonce, const char *binding, int64_t now,
                   char out[BO_CSRF_TOKEN_MAX])
{
    char m[33];
    mac(key, nonce, binding, now, m);
    snprintf(out, BO_CSRF_TOKEN_MAX, "%" PRId64 ".%s", now, m);
}

int bo_csrf_check(const unsigned char *key, const char *nonce, const char *binding, const char *token,
                  size_t n, int64_t now)
{
    size_t i = 0;
    int64_t t = 0;
    while (i < n && i < 12 && token[i] >= '0' && token[i] <= '9')
        t = t * 10 + (token[i++] - '0');
    if (i == 0 || i >= n || token[i] != '.' || n - i - 1 != 32)
        return BO_EINVAL;
    char want[33];
    mac(key, nonce, binding, t, want);
    if (!bo_equal_ct(want, token + i + 1, 32))
        return BO_EINVAL;
    if (t > now + 300 || now - t > BO_CSRF_MAX_AGE)
        return BO_ETIMEDOUT;
    return 0;
}
