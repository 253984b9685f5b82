/*
 * test_tls.c - the TLS engine (core/tls.c): a client and a server engine
 * handshake through memory, with certificates made by openssl for the test.
 */
#include "tls.h"
#include "unit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/borough-tls-XXXXXX";

static char *path(const char *name)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A CA, a server certificate for localhost signed by it, and an unrelated CA. */
static int make_certs(void)
{
    if (!mkdtemp(dir))
        return -1;
    return sh("cd %s && "
              "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
              "  -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null && "
              "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
              "  -keyout server.key -out server.csr 2>/dev/null && "
              "printf 'subjectAltName=DNS:localhost\\n' > ext.cnf && "
              "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
              "  -extfile ext.cnf -out server.pem 2>/dev/null && "
              "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
              "  -subj /CN=other-ca -keyout other.key -out other.pem 2>/dev/null",
              dir);
}

/* Moves whatever one engine has to send to the other, `step` bytes at a time. */
static void move(bo_tls *from, bo_tls *to, size_t step)
{
    bo_buf *out = bo_tls_output(from);
    for (size_t i = 0; i < out->len; i += step)
        bo_tls_feed(to, out->data + i, out->len - i < step ? out->len - i : step);
    out->len = 0;
}

/* Runs both handshakes to the end; returns the client's result (1 or an
   error), and the server's in *server_rc. */
static int pump(bo_tls *client, bo_tls *server, size_t step, int *server_rc)
{
    int c = 0, s = 0;
    for (int round = 0; round < 200 && (c == 0 || s == 0); round++) {
        if (c == 0)
            c = bo_tls_handshake(client);
        move(client, server, step);
        if (s == 0)
            s = bo_tls_handshake(server);
        move(server, client, step);
        if (c < 0 || s < 0)
            break;
    }
    if (server_rc)
        *server_rc = s;
    return c;
}

static bo_tls_config *server_config(void)
{
    bo_tls_config *cfg;
    char err[256];
    int rc = bo_tls_config_server(&cfg, path("server.pem"), path("server.key"), err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    return cfg;
}

static bo_tls_config *client_config(const char *ca)
{
    bo_tls_config *cfg;
    char err[256];
    int rc = bo_tls_config_client(&cfg, ca, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    return cfg;
}

TEST(handshake_and_exchange)
{
    bo_tls_config *sc = server_config(), *cc = client_config(path("ca.pem"));
    char err[256];
    bo_tls *client = bo_tls_new(cc, "localhost", err, sizeof err);
    bo_tls *server = bo_tls_new(sc, NULL, err, sizeof err);
    int srv;
    CHECK_EQ_INT(pump(client, server, 1 << 20, &srv), 1);
    CHECK_EQ_INT(srv, 1);
    CHECK_STR(bo_tls_version(client), "TLSv1.2");
    CHECK(strstr(bo_tls_cipher(client), "ECDHE") != NULL);
    CHECK(strstr(bo_tls_cipher(client), "GCM") || strstr(bo_tls_cipher(client), "CHACHA20"));

    CHECK_EQ_INT(bo_tls_write(client, "GET / HTTP/1.1\r\n\r\n", 18), 0);
    move(client, server, 1 << 20);
    char buf[64];
    long n = bo_tls_read(server, buf, sizeof buf);
    CHECK_MEM(buf, (size_t)n, "GET / HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(bo_tls_read(server, buf, sizeof buf), 0);   /* nothing more yet */

    CHECK_EQ_INT(bo_tls_write(server, "HTTP/1.1 200 OK\r\n", 17), 0);
    move(server, client, 1 << 20);
    n = bo_tls_read(client, buf, sizeof buf);
    CHECK_MEM(buf, (size_t)n, "HTTP/1.1 200 OK\r\n");

    bo_tls_close(client);
    move(client, server, 1 << 20);
    CHECK_EQ_INT(bo_tls_read(server, buf, sizeof buf), BO_ECLOSED);
    bo_tls_free(client);
    bo_tls_free(server);
    bo_tls_config_free(cc);
    bo_tls_config_free(sc);
}

TEST(one_byte_at_a_time)
{
    bo_tls_config *sc = server_config(), *cc = client_config(path("ca.pem"));
    char err[256];
    bo_tls *client = bo_tls_new(cc, "localhost", err, sizeof err);
    bo_tls *server = bo_tls_new(sc, NULL, err, sizeof err);
    CHECK_EQ_INT(pump(client, server, 1, NULL), 1);
    CHECK_EQ_INT(bo_tls_write(client, "ping", 4), 0);
    move(client, server, 1);
    char buf[16];
    long n = bo_tls_read(server, buf, sizeof buf);
    CHECK_MEM(buf, (size_t)n, "ping");
    bo_tls_free(client);
    bo_tls_free(server);
    bo_tls_config_free(cc);
    bo_tls_config_free(sc);
}

TEST(wrong_host_name_is_refused)
{
    bo_tls_config *sc = server_config(), *cc = client_config(path("ca.pem"));
    char err[256];
    bo_tls *client = bo_tls_new(cc, "grants.example.test", err, sizeof err);
    bo_tls *server = bo_tls_new(sc, NULL, err, sizeof err);
    CHECK_EQ_INT(pump(client, server, 1 << 20, NULL), BO_EPERM);
    CHECK(strstr(bo_tls_error(client), "certificate verification failed") != NULL);
    CHECK(strstr(bo_tls_error(client), "CN") != NULL);
    bo_tls_free(client);
    bo_tls_free(server);
    bo_tls_config_free(cc);
    bo_tls_config_free(sc);
}

TEST(unknown_ca_is_refused)
{
    bo_tls_config *sc = server_config(), *cc = client_config(path("other.pem"));
    char err[256];
    bo_tls *client = bo_tls_new(cc, "localhost", err, sizeof err);
    bo_tls *server = bo_tls_new(sc, NULL, err, sizeof err);
    CHECK_EQ_INT(pump(client, server, 1 << 20, NULL), BO_EPERM);
    CHECK(strstr(bo_tls_error(client), "not correctly signed by the trusted CA") != NULL);
    bo_tls_free(client);
    bo_tls_free(server);
    bo_tls_config_free(cc);
    bo_tls_config_free(sc);
}

TEST(system_store_does_not_trust_a_test_ca)
{
    bo_tls_config *sc = server_config(), *cc = client_config(NULL);
    char err[256];
    bo_tls *client = bo_tls_new(cc, "localhost", err, sizeof err);
    bo_tls *server = bo_tls_new(sc, NULL, err, sizeof err);
    CHECK_EQ_INT(pump(client, server, 1 << 20, NULL), BO_EPERM);
    bo_tls_free(client);
    bo_tls_free(server);
    bo_tls_config_free(cc);
    bo_tls_config_free(sc);
}

TEST(bad_files_are_reported)
{
    bo_tls_config *cfg = NULL;
    char err[256];
    CHECK_EQ_INT(bo_tls_config_server(&cfg, path("missing.pem"), path("server.key"), err, sizeof err),
                 BO_EINVAL);
    CHECK(cfg == NULL);
    CHECK(strstr(err, "missing.pem") != NULL);
    /* A key that is not the certificate's. */
    CHECK_EQ_INT(bo_tls_config_server(&cfg, path("server.pem"), path("other.key"), err, sizeof err),
                 BO_EINVAL);
    CHECK(strstr(err, "do not go together") != NULL);
    CHECK_EQ_INT(bo_tls_config_client(&cfg, path("missing.pem"), err, sizeof err), BO_EINVAL);
}

TEST(garbage_is_a_protocol_error)
{
    bo_tls_config *sc = server_config();
    char err[256];
    bo_tls *server = bo_tls_new(sc, NULL, err, sizeof err);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    bo_tls_feed(server, junk, sizeof junk - 1);
    int rc = bo_tls_handshake(server);
    CHECK(rc < 0);
    CHECK(bo_tls_error(server)[0] != '\0');
    bo_tls_free(server);
    bo_tls_config_free(sc);
}

static const unit_case cases[] = {
    UNIT_CASE(handshake_and_exchange)
    UNIT_CASE(one_byte_at_a_time)
    UNIT_CASE(wrong_host_name_is_refused)
    UNIT_CASE(unknown_ca_is_refused)
    UNIT_CASE(system_store_does_not_trust_a_test_ca)
    UNIT_CASE(bad_files_are_reported)
    UNIT_CASE(garbage_is_a_protocol_error)
};

int main(void)
{
    if (make_certs() != 0) {
        printf("cannot make test certificates with openssl\n0 passed, 1 failed\n");
        return 1;
    }
    int rc = UNIT_RUN("tls", cases);
    sh("rm -rf %s", dir);
    return rc;
}
