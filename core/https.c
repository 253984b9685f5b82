/*
 * https.c - the server's certificate (see https.h).
 */
#include "https.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the certificate ---- */

/* Opens file to learn that it can be read, and what it is now. */
static int check_file(const char *file, const char *what, struct stat *st, char *err, size_t errlen)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "TLS: cannot read the %s %s: %s", what, file, strerror(errno));
        return BO_EIO;
    }
    int rc = fstat(fd, st);
    close(fd);
    if (rc < 0 || !S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "TLS: cannot read the %s %s: not a file", what, file);
        return BO_EINVAL;
    }
    return 0;
}

int bo_https_cert_load(bo_https_cert **out, const char *cert_file, const char *key_file, char *err,
                       size_t errlen)
{
    *out = NULL;
    struct stat cert_st, key_st;
    int rc = check_file(cert_file, "certificate", &cert_st, err, errlen);
    if (rc == 0)
        rc = check_file(key_file, "key", &key_st, err, errlen);
    if (rc < 0)
        return rc;
    char why[400];
    bo_tls_config *tls;
    rc = bo_tls_config_server(&tls, cert_file, key_file, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "TLS: %s", why);   /* it names the file and what is wrong */
        return rc;
    }
    if (key_st.st_mode & S_IROTH)
        bo_log(BO_LOG_WARN, NULL, "TLS: the key %s can be read by every user (mode %03o); chmod o-r it", key_file,
               (unsigned)(key_st.st_mode & 0777));
    bo_https_cert *c = bo_calloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    c->tls = tls;
    c->cert_st = cert_st;
    c->key_st = key_st;
    c->expires = bo_tls_config_expiry(tls);
    *out = c;
    return 0;
}

static bool same_file(const struct stat *a, const char *file)
{
    struct stat b;
    return stat(file, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino && a->st_size == b.st_size &&
           a->st_mtim.tv_sec == b.st_mtim.tv_sec && a->st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

bool bo_https_cert_changed(const bo_https_cert *cert, const char *cert_file, const char *key_file)
{
    return !same_file(&cert->cert_st, cert_file) || !same_file(&cert->key_st, key_file);
}

bo_https_cert *bo_https_cert_ref(bo_https_cert *cert)
{
    if (cert)
        atomic_fetch_add(&cert->refs, 1);
    return cert;
}

void bo_https_cert_unref(bo_https_cert *cert)
{
    if (!cert || atomic_fetch_sub(&cert->refs, 1) != 1)
        return;
    bo_tls_config_free(cert->tls);
    free(cert);
}

/* ---- the redirect listener ---- */
