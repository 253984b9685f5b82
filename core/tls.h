/*
 * tls.h - the TLS engine: handshakes and records through memory buffers.
 *
 * The engine never touches a socket. Its owner (a server connection, the
 * outbound HTTP client) feeds it the ciphertext it read (bo_tls_feed), takes
 * the ciphertext it must send (bo_tls_output), and moves plaintext through
 * bo_tls_read and bo_tls_write. So TLS runs on the event loop without ever
 * blocking, and a later mbedTLS (3.6 LTS, with TLS 1.3) can replace 2.28
 * behind this interface alone.
 *
 * Policy: TLS 1.2 and newer only (Debian's mbedTLS 2.28 has no TLS 1.3),
 * ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only, no
 * renegotiation, and for clients certificate and host name verification
 * against the system CA store by default. Servers resume sessions by id
 * from a cache in their configuration (shared by every connection made
 * with it, up to 10,000 sessions, each for an hour).
 */
#ifndef BO_TLS_H
#define BO_TLS_H

#include "bo.h"
#include "buf.h"

/* Shared by many connections (and threads: mbedTLS is built with threading). */
typedef struct bo_tls_config bo_tls_config;
typedef struct bo_tls bo_tls;

/* A server configuration from a PEM certificate chain and private key.
   Returns 0, or BO_EINVAL/BO_EIO with the reason in err. */
int bo_tls_config_server(bo_tls_config **out, const char *cert_file, const char *key_file,
                         char *err, size_t errlen);
/* A client configuration trusting the PEM CA bundle ca_file (NULL: the
   system store). */
int bo_tls_config_client(bo_tls_config **out, const char *ca_file, char *err, size_t errlen);
void bo_tls_config_free(bo_tls_config *cfg);
/* When the first certificate of a server configuration's chain (its own)
   stops being valid, in Unix seconds (UTC); 0 for a client configuration. */
int64_t bo_tls_config_expiry(const bo_tls_config *cfg);

/* A new engine for one connection. hostname (clients) is sent as SNI and
   checked against the server's certificate. Returns NULL only if mbedTLS
   cannot set up the context (it then says why in err). */
bo_tls *bo_tls_new(bo_tls_config *cfg, const char *hostname, char *err, size_t errlen);
void bo_tls_free(bo_tls *t);

/* Gives the engine ciphertext read from the peer. */
void bo_tls_feed(bo_tls *t, const char *data, size_t len);
/* The ciphertext waiting to be sent; the caller sends it and empties the
   buffer (bo_buf_consume, len = 0, or by swapping in an empty bo_buf). */
bo_buf *bo_tls_output(bo_tls *t);

/* Advances the handshake. Returns 1 when it is complete, 0 when it needs
   more input (after sending the output), or BO_EPERM (the peer failed
   verification or policy) / BO_EIO (a protocol error); bo_tls_error says
   why. */
int bo_tls_handshake(bo_tls *t);
bool bo_tls_established(const bo_tls *t);

/* Reads decrypted bytes into buf. Returns the count, 0 when more input is
   needed, BO_ECLOSED when the peer closed the session, or a negative error. */
long bo_tls_read(bo_tls *t, char *buf, size_t cap);
/* Encrypts len bytes into the output. Returns 0 or a negative error. */
int bo_tls_write(bo_tls *t, const char *data, size_t len);
/* Queues a close_notify alert. */
void bo_tls_close(bo_tls *t);

/* Why the last call failed ("certificate verification failed: the host name
   does not match", ...). */
const char *bo_tls_error(const bo_tls *t);
/* The negotiated version and cipher suite, e.g. "TLSv1.2",
   "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"; NULL before the handshake. */
const char *bo_tls_version(const bo_tls *t);
const char *bo_tls_cipher(const bo_tls *t);

#endif
