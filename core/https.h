/*
 * https.h - what the server needs for HTTPS besides the TLS engine (tls.h):
 * its certificate.
 *
 * The certificate and key (`serve --tls-cert FILE --tls-key FILE`) are
 * loaded once into a TLS configuration that every worker shares. A reload
 * (SIGHUP, `borough reload`) loads the files again when they changed and
 * swaps the new configuration in for new connections; a connection keeps
 * a reference to the one it was accepted with, so the old one is freed
 * when its last connection closes. The TLS side of a connection itself
 * (handshake, records) lives in conn.c, behind its `tls` pointer.
 *
 * The redirect listener (`--redirect-http HOST:PORT`) is a listener of each
 * worker whose requests request.c answers with a redirect to the same path
 * and query over HTTPS, beside the platform's other redirects.
 */
#ifndef BO_HTTPS_H
#define BO_HTTPS_H

#include "bo.h"
#include "tls.h"

#include <stdatomic.h>
#include <sys/stat.h>


typedef struct bo_https_cert {
    atomic_int refs;
    bo_tls_config *tls;         /* the server configuration (owned) */
    struct stat cert_st;        /* the files as loaded, to notice a change */
    struct stat key_st;
    int64_t expires;            /* the certificate's notAfter, Unix seconds */
} bo_https_cert;

/* Loads cert_file (a PEM chain, the server's certificate first) and
   key_file (its PEM private key). Returns 0 and a new certificate (one
   reference), or BO_EINVAL/BO_EIO with one line in err naming the file and
   what is wrong with it. A key readable by others is loaded, with a
   warning in the log. */
int bo_https_cert_load(bo_https_cert **out, const char *cert_file, const char *key_file, char *err,
                       size_t errlen);
/* True when either file is not the one cert was loaded from (replaced,
   modified, or gone). */
bool bo_https_cert_changed(const bo_https_cert *cert, const char *cert_file, const char *key_file);
/* Returns a new reference (cert may be NULL). */
bo_https_cert *bo_https_cert_ref(bo_https_cert *cert);
/* Drops a reference; the last one frees it (cert may be NULL). */
void bo_https_cert_unref(bo_https_cert *cert);

#endif
